import { isWildcardAlias } from "../alias.js";
import { type DeploymentTracker, statusFor } from "../deployment.js";
import { type Distribution, DistributionKind, newDistribution, type Tag } from "../distribution.js";
import { ControllerError, ControllerErrorCode } from "../errors.js";
import type { DistributionStore } from "../store/distribution-store.js";
import { ApiError } from "./api-error.js";
import { parseStreamingDistributionArn } from "./streaming-config/arn.js";
import {
  configFromDistribution,
  configsEqual,
  type StreamingConfigInput,
  toDistributionInput,
  toDistributionPatch,
} from "./streaming-config/model.js";
import { checkUpdate } from "./streaming-config/rules.js";
import type { DistributionListPage, DistributionView } from "./xml-types.js";

export interface StreamingApiOptions {
  readonly store: DistributionStore;
  readonly deployment: DeploymentTracker;
  /** Distributions get domain names s<13 chars>.<baseDomain>. */
  readonly baseDomain: string;
  /** The account in ARNs. */
  readonly accountId: string;
  /** TooManyStreamingDistributions past this many. */
  readonly maxDistributions: number;
  /** Tags per distribution. */
  readonly maxTags: number;
  readonly clock?: () => number;
  /** Told of each change this API stored (create, update: the id and its config version; delete: version null), for the deployment metrics. */
  readonly onChange?: (id: string, configVersion: number | null) => void;
  /**
   * The key ids each trusted-signer account signs with ("self" and the
   * account numbers), for ActiveTrustedSigners. @default none
   */
  readonly activeKeyPairIds?: () => Promise<ReadonlyMap<string, readonly string[]>>;
}

export interface CreateResult {
  readonly view: DistributionView;
  /** False when the CallerReference matched an earlier create with the same config (the original is answered). */
  readonly created: boolean;
}

/** Generator collisions (id or domain name already used) retried with fresh draws. */
const maxCreateAttempts = 3;

/**
 * The streaming-distribution operations on the store, in CloudFront's
 * semantics; version-independent (the XML codecs sit around it) and free of
 * HTTP (api-server.ts). Throws ApiError or ControllerError (mapped by
 * toApiError).
 */
export class StreamingApi {
  readonly #o: StreamingApiOptions;
  readonly #clock: () => number;

  constructor(options: StreamingApiOptions) {
    this.#o = options;
    this.#clock = options.clock ?? Date.now;
  }

  get accountId(): string {
    return this.#o.accountId;
  }

  /**
   * CreateStreamingDistribution[WithTags]. A CallerReference seen before
   * answers the original distribution when the config matches (tags are not
   * part of it), and StreamingDistributionAlreadyExists when it does not.
   */
  async create(config: StreamingConfigInput, tags: readonly Tag[]): Promise<CreateResult> {
    this.#checkAliasesOutsideBaseDomain(config.aliases);
    const earlier = await this.#o.store.getByCallerReference(config.callerReference);
    if (earlier) return { view: await this.#sameAsEarlier(earlier, config), created: false };
    for (let attempt = 1; ; attempt++) {
      const fresh = newDistribution(toDistributionInput(config, tags), {
        baseDomain: this.#o.baseDomain,
        now: this.#clock(),
      });
      try {
        const created = await this.#o.store.create(fresh, { maxDistributions: this.#o.maxDistributions });
        this.#o.deployment.invalidate();
        this.#o.onChange?.(created.id, created.configVersion);
        return { view: await this.#view(created), created: true };
      } catch (error) {
        if (!(error instanceof ControllerError)) throw error;
        if (error.code === ControllerErrorCode.CallerReferenceInUse) {
          // Another request with this reference won a race with this one.
          const winner = await this.#o.store.getByCallerReference(config.callerReference);
          if (winner) return { view: await this.#sameAsEarlier(winner, config), created: false };
        }
        if (error.code !== ControllerErrorCode.DistributionExists || attempt >= maxCreateAttempts)
          throw error;
      }
    }
  }

  async get(id: string): Promise<DistributionView> {
    return this.#view(await this.#require(id));
  }

  async getConfig(id: string): Promise<Distribution> {
    return this.#require(id);
  }

  /** UpdateStreamingDistribution: the body replaces the config; If-Match must be the current ETag. */
  async update(
    id: string,
    ifMatch: string | undefined,
    config: StreamingConfigInput,
  ): Promise<DistributionView> {
    const etag = requireIfMatch(ifMatch);
    const current = await this.#require(id);
    checkUpdate(current, config);
    this.#checkAliasesOutsideBaseDomain(config.aliases);
    if (current.etag !== etag) throw preconditionFailed();
    // The store checks the ETag again, atomically: a concurrent update wins once.
    const updated = await this.#o.store.update(id, toDistributionPatch(config), { ifMatch: etag });
    this.#o.deployment.invalidate();
    this.#o.onChange?.(updated.id, updated.configVersion);
    return this.#view(updated);
  }

  /** DeleteStreamingDistribution: only a disabled distribution, with the current ETag. */
  async delete(id: string, ifMatch: string | undefined): Promise<void> {
    const etag = requireIfMatch(ifMatch);
    await this.#require(id);
    await this.#o.store.delete(id, { ifMatch: etag, requireDisabled: true });
    this.#o.deployment.invalidate();
    this.#o.onChange?.(id, null);
  }

  /** ListStreamingDistributions: ordered by id; marker is the last id of the previous page. */
  async list(marker: string, maxItems: number): Promise<DistributionListPage> {
    const all = (await this.#o.store.list()).filter((d) => d.kind === DistributionKind.Streaming);
    const rest = marker === "" ? all : all.filter((d) => d.id > marker);
    const page = rest.slice(0, maxItems);
    const isTruncated = rest.length > page.length;
    const minApplied = await this.#o.deployment.minAppliedVersion();
    return {
      // Summaries carry no ActiveTrustedSigners: no key lookup here.
      items: page.map((distribution) => ({ distribution, status: statusFor(distribution, minApplied) })),
      marker,
      maxItems,
      isTruncated,
      ...(isTruncated ? { nextMarker: page[page.length - 1]!.id } : {}),
    };
  }

  async tag(resourceArn: string, tags: readonly Tag[]): Promise<void> {
    const id = this.#taggedId(resourceArn);
    await this.#onResource(() => this.#o.store.changeTags(id, { set: tags }, this.#o.maxTags));
  }

  async untag(resourceArn: string, keys: readonly string[]): Promise<void> {
    const id = this.#taggedId(resourceArn);
    await this.#onResource(() => this.#o.store.changeTags(id, { removeKeys: keys }, this.#o.maxTags));
  }

  async listTags(resourceArn: string): Promise<readonly Tag[]> {
    const id = this.#taggedId(resourceArn);
    const d = await this.#o.store.get(id);
    if (!d || d.kind !== DistributionKind.Streaming) throw noSuchResource(resourceArn);
    return d.tags;
  }

  #taggedId(resourceArn: string): string {
    if (resourceArn === "") throw new ApiError("InvalidArgument", "The Resource parameter is required.");
    return parseStreamingDistributionArn(resourceArn, this.#o.accountId);
  }

  async #onResource(change: () => Promise<Distribution>): Promise<void> {
    try {
      await change();
    } catch (error) {
      if (error instanceof ControllerError && error.code === ControllerErrorCode.DistributionNotFound) {
        throw new ApiError("NoSuchResource", "The specified resource does not exist.", { cause: error });
      }
      throw error;
    }
  }

  async #sameAsEarlier(earlier: Distribution, config: StreamingConfigInput): Promise<DistributionView> {
    // Tags are not part of the config (CloudFront compares the
    // DistributionConfig): a Create repeating a CreateWithTags, or the same
    // config with other tags, gets the original, tags as they are now.
    if (!configsEqual(configFromDistribution(earlier), config)) {
      throw new ApiError(
        "StreamingDistributionAlreadyExists",
        `The caller reference you attempted to use was already used for streaming distribution ${earlier.id} ` +
          "with a different configuration.",
      );
    }
    return this.#view(earlier);
  }

  /**
   * A CNAME at or under the base domain would claim a name the controller
   * hands out itself (s<13 chars>.<base-domain>), like a cloudfront.net
   * alias at CloudFront. A wildcard above it (*.local) is fine: a
   * distribution's own domain name is an exact name, and exact names win.
   */
  #checkAliasesOutsideBaseDomain(aliases: readonly string[]): void {
    const base = this.#o.baseDomain.toLowerCase();
    for (const alias of aliases) {
      const name = isWildcardAlias(alias) ? alias.slice(2) : alias;
      if (name === base || name.endsWith(`.${base}`)) {
        throw new ApiError(
          "InvalidArgument",
          `The CNAME ${JSON.stringify(alias)} is under ${base}, where distributions get their own domain names.`,
        );
      }
    }
  }

  async #require(id: string): Promise<Distribution> {
    const d = await this.#o.store.get(id);
    if (!d || d.kind !== DistributionKind.Streaming) {
      throw new ApiError(
        "NoSuchStreamingDistribution",
        "The specified streaming distribution does not exist.",
      );
    }
    return d;
  }

  async #view(distribution: Distribution): Promise<DistributionView> {
    return {
      distribution,
      status: await this.#o.deployment.statusOf(distribution),
      activeKeyPairIds: await this.#activeKeyPairIds(distribution),
    };
  }

  async #activeKeyPairIds(d: Distribution): Promise<ReadonlyMap<string, readonly string[]> | undefined> {
    if (!d.trustedSigners.enabled || !this.#o.activeKeyPairIds) return undefined;
    return this.#o.activeKeyPairIds();
  }
}

function requireIfMatch(ifMatch: string | undefined): string {
  const etag = ifMatch?.trim() ?? "";
  if (etag === "") {
    throw new ApiError(
      "InvalidIfMatchVersion",
      "The If-Match version is missing or not valid for the resource.",
    );
  }
  return etag;
}

function preconditionFailed(): ApiError {
  return new ApiError(
    "PreconditionFailed",
    "The precondition given in one or more of the request-header fields evaluated to false.",
  );
}

function noSuchResource(arn: string): ApiError {
  return new ApiError("NoSuchResource", `The resource ${JSON.stringify(arn.slice(0, 200))} does not exist.`);
}
