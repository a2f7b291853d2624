import { type KeyObject, verify } from "node:crypto";
import { ipv4InNetwork } from "./ipv4-cidr.js";
import { cannedPolicyText, type Policy, parseCustomPolicy } from "./policy.js";
import { HashAlgorithm, parseSignedQuery, type SignedQuery } from "./signed-query.js";
import { matchesWildcard } from "./wildcard.js";

/** A public key a trusted signer signs with (CloudFront's public key or legacy key pair). */
export interface SignerKey {
  /** Key-Pair-Id as signers send it (a public key's id, e.g. K2JCJMDEHXQW5F, or APKA… of a key pair). */
  readonly id: string;
  /** The 12-digit account the key belongs to; TrustedSigners name accounts. */
  readonly account: string;
  readonly publicKey: KeyObject;
  /** Changes whenever the key material does (e.g. sha256 of its DER), so cached verdicts never outlive a key. */
  readonly fingerprint: string;
}

export interface SignerKeys {
  get(keyPairId: string): SignerKey | undefined;
}

/** Why a play's signature was refused: the `reason` label of the refusals metric. */
export const SignatureRefusal = {
  /** The distribution requires signed URLs and the name carries none. */
  Unsigned: "unsigned",
  /** The reserved parameters or the policy are not well formed. */
  Malformed: "malformed",
  /** No key with that Key-Pair-Id is known (never created, or deleted). */
  UnknownKey: "unknown_key",
  /** The key belongs to an account that is not among the distribution's trusted signers. */
  UntrustedKey: "untrusted_key",
  /** The signature does not verify: the name, policy or signature was changed. */
  BadSignature: "bad_signature",
  /** The policy's Resource does not match the stream name. */
  ResourceMismatch: "resource_mismatch",
  /** Now is at or past DateLessThan (Expires). */
  Expired: "expired",
  /** Now is not past DateGreaterThan. */
  NotYetValid: "not_yet_valid",
  /** The viewer's address is outside the policy's AWS:SourceIp. */
  IpMismatch: "ip_mismatch",
} as const;
export type SignatureRefusal = (typeof SignatureRefusal)[keyof typeof SignatureRefusal];

export type SignatureVerdict =
  | { readonly ok: true; readonly keyPairId: string; readonly expiresAtSeconds: number }
  | { readonly ok: false; readonly reason: SignatureRefusal; readonly detail: string };

export interface PlayToVerify {
  /** The query after `?` of the play name, as the player sent it. */
  readonly query: string;
  /**
   * The names the signer may have signed for this play, most likely first:
   * CloudFront's RTMP Resource is the stream name without `mp4:`/`mp3:`,
   * with or without its extension (see resourceCandidates).
   */
  readonly resources: readonly string[];
  /** The viewer's address as the socket reports it. */
  readonly clientAddress: string;
  /** Accounts whose keys may sign for this distribution. */
  readonly trustedAccounts: ReadonlySet<string>;
  readonly nowMs: number;
}

export interface SignedUrlVerifierOptions {
  readonly keys: SignerKeys;
  /** Signature verdicts kept (a verdict holds as long as the key does); bounded, oldest dropped. */
  readonly cacheEntries?: number;
}

/**
 * Decides whether a play of a signed-URL distribution may start, as
 * CloudFront did at the start of each play event: the signature (RSA-SHA1,
 * or RSA-SHA256 with Hash-Algorithm=SHA256) over the canned policy rebuilt
 * from Expires or over the custom policy sent, by a key of a trusted
 * account, then the policy's conditions at this moment for this viewer.
 *
 * Pure apart from RSA verification: the clock and the keys come in. RSA
 * verdicts are cached by (key fingerprint, algorithm, policy, signature)
 * because players repeat the same play name on every seek; time and
 * address conditions are checked on every call.
 */
export class SignedUrlVerifier {
  readonly #keys: SignerKeys;
  readonly #cacheEntries: number;
  readonly #verdicts = new Map<string, boolean>();
  #verifications = 0;

  constructor(options: SignedUrlVerifierOptions) {
    this.#keys = options.keys;
    this.#cacheEntries = options.cacheEntries ?? 10_000;
  }

  /** RSA verifications done so far (the rest were answered from the cache). */
  get verifications(): number {
    return this.#verifications;
  }

  verify(play: PlayToVerify): SignatureVerdict {
    const signed = parseSignedQuery(play.query);
    if (signed.kind === "unsigned")
      return refuse(SignatureRefusal.Unsigned, "the stream name carries no signature");
    if (signed.kind === "malformed") return refuse(SignatureRefusal.Malformed, signed.problem);
    const key = this.#keys.get(signed.keyPairId);
    if (key === undefined) return refuse(SignatureRefusal.UnknownKey, `no key ${signed.keyPairId}`);
    if (!play.trustedAccounts.has(key.account)) {
      return refuse(SignatureRefusal.UntrustedKey, `key ${key.id} is not of a trusted signer`);
    }
    const policy = this.#verifiedPolicy(signed, key, play.resources);
    if (!("resource" in policy)) return policy;
    const nowSeconds = play.nowMs / 1000;
    if (nowSeconds >= policy.dateLessThanSeconds) {
      return refuse(SignatureRefusal.Expired, `expired at ${policy.dateLessThanSeconds}`);
    }
    if (policy.dateGreaterThanSeconds !== undefined && nowSeconds <= policy.dateGreaterThanSeconds) {
      return refuse(SignatureRefusal.NotYetValid, `valid after ${policy.dateGreaterThanSeconds}`);
    }
    if (policy.sourceIp !== undefined && !ipv4InNetwork(play.clientAddress, policy.sourceIp)) {
      return refuse(SignatureRefusal.IpMismatch, "the viewer's address is outside the policy's");
    }
    return { ok: true, keyPairId: key.id, expiresAtSeconds: policy.dateLessThanSeconds };
  }

  /** The signed policy, or the refusal when the signature or Resource does not hold. */
  #verifiedPolicy(
    signed: Extract<SignedQuery, { kind: "canned" | "custom" }>,
    key: SignerKey,
    resources: readonly string[],
  ): Policy | Extract<SignatureVerdict, { ok: false }> {
    if (signed.kind === "canned") {
      // The canned policy is not sent: rebuild it for each name the signer may have used.
      for (const resource of resources) {
        const text = cannedPolicyText(resource, signed.expiresSeconds);
        if (this.#signatureHolds(key, signed.hashAlgorithm, text, signed.signature)) {
          return {
            resource,
            dateLessThanSeconds: signed.expiresSeconds,
            dateGreaterThanSeconds: undefined,
            sourceIp: undefined,
          };
        }
      }
      return refuse(SignatureRefusal.BadSignature, "the signature does not match the name and Expires");
    }
    if (!this.#signatureHolds(key, signed.hashAlgorithm, signed.policyText, signed.signature)) {
      return refuse(SignatureRefusal.BadSignature, "the signature does not match the policy");
    }
    const parsed = parseCustomPolicy(signed.policyText);
    if (!parsed.ok) return refuse(SignatureRefusal.Malformed, parsed.problem);
    const pattern = parsed.policy.resource;
    if (pattern !== undefined && !resources.some((r) => matchesWildcard(pattern, r))) {
      return refuse(SignatureRefusal.ResourceMismatch, "the policy's Resource does not name this stream");
    }
    return parsed.policy;
  }

  #signatureHolds(key: SignerKey, algorithm: HashAlgorithm, policyText: string, signature: Buffer): boolean {
    const cacheKey = `${key.fingerprint}\n${algorithm}\n${signature.toString("base64")}\n${policyText}`;
    const cached = this.#verdicts.get(cacheKey);
    if (cached !== undefined) {
      // Refresh its place: the most recently used verdicts stay.
      this.#verdicts.delete(cacheKey);
      this.#verdicts.set(cacheKey, cached);
      return cached;
    }
    this.#verifications++;
    let holds: boolean;
    try {
      holds = verify(
        algorithm === HashAlgorithm.Sha256 ? "sha256" : "sha1",
        Buffer.from(policyText, "utf8"),
        key.publicKey,
        signature,
      );
    } catch {
      holds = false;
    }
    this.#verdicts.set(cacheKey, holds);
    if (this.#verdicts.size > this.#cacheEntries) {
      const oldest = this.#verdicts.keys().next();
      if (!oldest.done) this.#verdicts.delete(oldest.value);
    }
    return holds;
  }
}

/**
 * The names a signer may have signed for a play, as CloudFront read an
 * RTMP Resource: the stream name after `cfx/st/`, without `mp4:`/`mp3:`
 * (or, as the official signer writes it, with `mp4%3A`), with and without its extension, as sent and percent-decoded (the
 * official signer percent-encodes path segments), and with the operator's
 * own query parameters when there are any (the signer signs the URL it is
 * given, query included).
 */
export function resourceCandidates(nameWithoutQuery: string, ownQuery: string): string[] {
  const strip = (name: string) => name.replace(/^(mp4|mp3|flv)(?::|%3a)/i, "");
  const forms = [strip(nameWithoutQuery), strip(safeDecode(nameWithoutQuery))];
  // The official signer, given an mp4:… name, signs it prefix and all with the colon encoded (mp4%3A…).
  if (/^(mp4|mp3|flv)%3a/i.test(nameWithoutQuery)) forms.push(nameWithoutQuery);
  const names = new Set<string>();
  for (const name of forms) {
    names.add(name);
    const slash = name.lastIndexOf("/");
    const dot = name.lastIndexOf(".");
    if (dot > slash + 1) names.add(name.slice(0, dot));
  }
  const all = [...names];
  return ownQuery.length > 0 ? [...all, ...all.map((n) => `${n}?${ownQuery}`)] : all;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function refuse(reason: SignatureRefusal, detail: string): Extract<SignatureVerdict, { ok: false }> {
  return { ok: false, reason, detail };
}
