import type { Distribution } from "../../../lib/config-watcher.js";
import type { StreamRequest } from "../routing/stream-name.js";
import { parseSignedQuery } from "./signed-query.js";
import {
  resourceCandidates,
  SignatureRefusal,
  type SignatureVerdict,
  type SignedUrlVerifier,
} from "./signed-url-verifier.js";

export type PlayAuthorization =
  | { readonly allowed: true; readonly signed: false }
  | {
      readonly allowed: true;
      readonly signed: true;
      readonly keyPairId: string;
      readonly expiresAtSeconds: number;
    }
  | {
      readonly allowed: false;
      readonly reason: SignatureRefusal;
      readonly detail: string;
      readonly description: string;
    };

/**
 * The gate every play event passes (play, play2, and the new play a seek
 * or an unpause issues): a distribution whose TrustedSigners are enabled
 * serves only names signed by a key of a trusted account, checked at this
 * moment — a play already running continues past its expiry, as on
 * CloudFront. Decided before anything is looked up, so a refusal says
 * nothing about whether the object exists.
 */
export class PlayAuthorizer {
  readonly #verifier: SignedUrlVerifier;
  readonly #now: () => number;

  constructor(verifier: SignedUrlVerifier, now: () => number) {
    this.#verifier = verifier;
    this.#now = now;
  }

  authorize(distribution: Distribution, request: StreamRequest, clientAddress: string): PlayAuthorization {
    const signers = distribution.trustedSigners;
    if (signers === undefined || !signers.enabled) return { allowed: true, signed: false };
    const at = request.name.indexOf("?");
    const name = at === -1 ? request.name : request.name.slice(0, at);
    const parsed = parseSignedQuery(request.query);
    const ownQuery = parsed.kind === "malformed" ? "" : parsed.ownQuery;
    const verdict: SignatureVerdict = this.#verifier.verify({
      query: request.query,
      resources: resourceCandidates(name, ownQuery),
      clientAddress,
      trustedAccounts: new Set(signers.accountIds),
      nowMs: this.#now(),
    });
    if (verdict.ok) {
      return {
        allowed: true,
        signed: true,
        keyPairId: verdict.keyPairId,
        expiresAtSeconds: verdict.expiresAtSeconds,
      };
    }
    return {
      allowed: false,
      reason: verdict.reason,
      detail: verdict.detail,
      description: `Access denied: ${viewerPhrase[verdict.reason]}`,
    };
  }
}

/**
 * What the player is told (NetStream.Play.Failed's description). It names
 * what is wrong with the URL, never anything about the object.
 */
const viewerPhrase: Record<SignatureRefusal, string> = {
  [SignatureRefusal.Unsigned]: "this distribution serves signed URLs only",
  [SignatureRefusal.Malformed]: "the signed URL is malformed",
  [SignatureRefusal.UnknownKey]: "the URL is signed with an unknown key",
  [SignatureRefusal.UntrustedKey]: "the URL is signed by a signer this distribution does not trust",
  [SignatureRefusal.BadSignature]: "the URL's signature is not valid",
  [SignatureRefusal.ResourceMismatch]: "the URL's policy does not cover this stream",
  [SignatureRefusal.Expired]: "the URL has expired",
  [SignatureRefusal.NotYetValid]: "the URL is not valid yet",
  [SignatureRefusal.IpMismatch]: "the URL is not valid from this address",
};
