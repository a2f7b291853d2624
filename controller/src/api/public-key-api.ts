import { ControllerError, ControllerErrorCode } from "../errors.js";
import type { RandomBytes } from "../ids.js";
import {
  encodedKeyProblem,
  maxCallerReferenceChars,
  maxPublicKeyCommentChars,
  newPublicKeyId,
  normalizeEncodedKey,
  type PublicKeyRecord,
  publicKeyNameProblem,
} from "../public-key.js";
import type { PublicKeyStore } from "../store/distribution-store.js";
import { ApiError } from "./api-error.js";
import type { PublicKeyConfigInput, PublicKeyListPage } from "./public-key-xml.js";

export interface PublicKeyApiOptions {
  /** Undefined when the store keeps no public keys (a custom DistributionStore): every call answers NotImplemented. */
  readonly store: PublicKeyStore | undefined;
  /** TooManyPublicKeys past this many (CloudFront's quota is 10 per account). */
  readonly maxPublicKeys: number;
  readonly random?: RandomBytes;
}

export interface CreatePublicKeyResult {
  readonly key: PublicKeyRecord;
  /** False when the CallerReference matched an earlier create with the same config. */
  readonly created: boolean;
}

/** Generator collisions (id already used) retried with fresh draws. */
const maxCreateAttempts = 3;

/**
 * CreatePublicKey … ListPublicKeys in CloudFront's semantics, free of HTTP
 * and XML. The keys are this installation's account's (account-id): what
 * TrustedSigners Self means. Throws ApiError or ControllerError.
 */
export class PublicKeyApi {
  readonly #o: PublicKeyApiOptions;

  constructor(options: PublicKeyApiOptions) {
    this.#o = options;
  }

  /**
   * A CallerReference seen before answers the original key when the
   * config is the same, and PublicKeyAlreadyExists when it is not.
   */
  async create(input: PublicKeyConfigInput): Promise<CreatePublicKeyResult> {
    const store = this.#store();
    const config = checkConfig(input);
    const earlier = await store.getPublicKeyByCallerReference(config.callerReference);
    if (earlier) return { key: sameAsEarlier(earlier, config), created: false };
    for (let attempt = 1; ; attempt++) {
      try {
        const key = await store.createPublicKey(
          {
            ...config,
            id: newPublicKeyId(this.#o.random),
            // The store stamps these three.
            createdMs: 0,
            etag: "",
            configVersion: 0,
          },
          { maxPublicKeys: this.#o.maxPublicKeys },
        );
        return { key, created: true };
      } catch (error) {
        if (!(error instanceof ControllerError)) throw error;
        if (error.code === ControllerErrorCode.PublicKeyCallerReferenceInUse) {
          // A concurrent create with this reference won.
          const winner = await store.getPublicKeyByCallerReference(config.callerReference);
          if (winner) return { key: sameAsEarlier(winner, config), created: false };
        }
        if (error.code !== ControllerErrorCode.PublicKeyExists || attempt >= maxCreateAttempts) throw error;
      }
    }
  }

  async get(id: string): Promise<PublicKeyRecord> {
    const key = await this.#store().getPublicKey(id);
    if (!key) throw noSuchPublicKey();
    return key;
  }

  /**
   * UpdatePublicKey: "the only value you can change is the comment"
   * (CloudFront's API reference); any other field that differs is
   * CannotChangeImmutablePublicKeyFields.
   */
  async update(
    id: string,
    ifMatch: string | undefined,
    input: PublicKeyConfigInput,
  ): Promise<PublicKeyRecord> {
    const etag = requireIfMatch(ifMatch);
    const config = checkConfig(input);
    const current = await this.get(id);
    const changed = (
      [
        ["CallerReference", current.callerReference !== config.callerReference],
        ["Name", current.name !== config.name],
        ["EncodedKey", current.encodedKey !== config.encodedKey],
      ] as const
    )
      .filter(([, differs]) => differs)
      .map(([field]) => field);
    if (changed.length > 0) {
      throw new ApiError(
        "CannotChangeImmutablePublicKeyFields",
        `You can't change the ${changed.join(", ")} of a public key; only its Comment.`,
      );
    }
    if (current.etag !== etag) throw preconditionFailed();
    return this.#store().updatePublicKey(id, { comment: config.comment }, { ifMatch: etag });
  }

  async delete(id: string, ifMatch: string | undefined): Promise<void> {
    const etag = requireIfMatch(ifMatch);
    await this.get(id);
    await this.#store().deletePublicKey(id, { ifMatch: etag });
  }

  /** Ordered by id; marker is the last id of the previous page. */
  async list(marker: string, maxItems: number): Promise<PublicKeyListPage> {
    const all = await this.#store().listPublicKeys();
    const rest = marker === "" ? all : all.filter((k) => k.id > marker);
    const items = rest.slice(0, maxItems);
    return {
      items,
      maxItems,
      ...(rest.length > items.length ? { nextMarker: items[items.length - 1]!.id } : {}),
    };
  }

  #store(): PublicKeyStore {
    if (!this.#o.store) {
      throw new ApiError("NotImplemented", "This controller's store keeps no public keys.");
    }
    return this.#o.store;
  }
}

/** The config with its values checked (InvalidArgument naming the field) and the key normalised. */
function checkConfig(input: PublicKeyConfigInput): PublicKeyConfigInput {
  const reference = input.callerReference;
  if (reference.length === 0 || reference.length > maxCallerReferenceChars) {
    throw invalid(`CallerReference must be 1 to ${maxCallerReferenceChars} characters.`);
  }
  const nameProblem = publicKeyNameProblem(input.name);
  if (nameProblem !== undefined) throw invalid(`The public key Name ${nameProblem}.`);
  if (input.comment.length > maxPublicKeyCommentChars) {
    throw invalid(`The public key Comment is longer than ${maxPublicKeyCommentChars} characters.`);
  }
  const keyProblem = encodedKeyProblem(input.encodedKey);
  if (keyProblem !== undefined) throw invalid(`The EncodedKey ${keyProblem}.`);
  return { ...input, encodedKey: normalizeEncodedKey(input.encodedKey) };
}

function sameAsEarlier(earlier: PublicKeyRecord, config: PublicKeyConfigInput): PublicKeyRecord {
  const same =
    earlier.name === config.name &&
    earlier.encodedKey === config.encodedKey &&
    earlier.comment === config.comment;
  if (!same) {
    throw new ApiError(
      "PublicKeyAlreadyExists",
      `The caller reference was already used for public key ${earlier.id} with a different configuration.`,
    );
  }
  return earlier;
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

function noSuchPublicKey(): ApiError {
  return new ApiError("NoSuchPublicKey", "The specified public key does not exist.");
}

function invalid(message: string): ApiError {
  return new ApiError("InvalidArgument", message);
}
