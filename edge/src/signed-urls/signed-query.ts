import { decodeUrlSafeBase64 } from "./url-safe-base64.js";

/**
 * The signed-URL parameters of a play name's query (after `?`), as
 * CloudFront defined them for RTMP:
 *
 *   canned:  <own params&>Expires=<epoch s>&Signature=<sig>&Key-Pair-Id=<id>
 *   custom:  <own params&>Policy=<b64 policy>&Signature=<sig>&Key-Pair-Id=<id>
 *
 * plus `Hash-Algorithm=SHA256` from signers that sign with RSA-SHA256
 * (the official `@aws-sdk/cloudfront-signer` with `algorithm: "SHA256"`);
 * without it the signature is RSA-SHA1, as CloudFront's was. The names are
 * reserved and case-sensitive; names and values may be percent-encoded
 * (the official signer encodes them). The operator's own parameters are
 * kept in order, without the reserved ones: a policy's Resource may name
 * them.
 */
export type SignedQuery =
  | { readonly kind: "unsigned"; readonly ownQuery: string }
  | {
      readonly kind: "canned";
      readonly expiresSeconds: number;
      readonly signature: Buffer;
      readonly keyPairId: string;
      readonly hashAlgorithm: HashAlgorithm;
      readonly ownQuery: string;
    }
  | {
      readonly kind: "custom";
      readonly policyText: string;
      readonly signature: Buffer;
      readonly keyPairId: string;
      readonly hashAlgorithm: HashAlgorithm;
      readonly ownQuery: string;
    }
  | { readonly kind: "malformed"; readonly problem: string };

export const HashAlgorithm = { Sha1: "SHA1", Sha256: "SHA256" } as const;
export type HashAlgorithm = (typeof HashAlgorithm)[keyof typeof HashAlgorithm];

const reservedNames = new Set(["Expires", "Policy", "Signature", "Key-Pair-Id", "Hash-Algorithm"]);

/** A base64 policy longer than this is not a policy CloudFront would have signed (one statement). */
export const maxPolicyChars = 4096;
/** RSA signatures of keys up to 8,192 bits. */
const maxSignatureBytes = 1024;
/** The Expires field is a 32-bit epoch in seconds. */
const maxEpochSeconds = 2_147_483_647;
const keyPairIdPattern = /^[A-Za-z0-9]{1,128}$/;

export function parseSignedQuery(query: string): SignedQuery {
  const own: string[] = [];
  const reserved = new Map<string, string>();
  for (const pair of query.length === 0 ? [] : query.split("&")) {
    if (pair.length === 0) continue;
    const eq = pair.indexOf("=");
    const name = percentDecode(eq === -1 ? pair : pair.slice(0, eq));
    if (name === null || !reservedNames.has(name)) {
      own.push(pair);
      continue;
    }
    if (reserved.has(name)) return malformed(`${name} appears twice`);
    const value = eq === -1 ? null : percentDecode(pair.slice(eq + 1));
    if (value === null) return malformed(`${name} has no valid value`);
    reserved.set(name, value);
  }
  const ownQuery = own.join("&");
  if (reserved.size === 0) return { kind: "unsigned", ownQuery };

  const hashName = reserved.get("Hash-Algorithm") ?? HashAlgorithm.Sha1;
  if (hashName !== HashAlgorithm.Sha1 && hashName !== HashAlgorithm.Sha256) {
    return malformed("Hash-Algorithm is neither SHA1 nor SHA256");
  }
  const keyPairId = reserved.get("Key-Pair-Id");
  if (keyPairId === undefined) return malformed("Key-Pair-Id is missing");
  if (!keyPairIdPattern.test(keyPairId)) return malformed("Key-Pair-Id is not a key id");
  const signatureText = reserved.get("Signature");
  if (signatureText === undefined) return malformed("Signature is missing");
  const signature =
    signatureText.length <= (maxSignatureBytes * 4) / 3 + 4 ? decodeUrlSafeBase64(signatureText) : null;
  if (signature === null || signature.length === 0) return malformed("Signature is not base64");

  const expires = reserved.get("Expires");
  const policy = reserved.get("Policy");
  if ((expires === undefined) === (policy === undefined)) {
    return malformed("exactly one of Expires and Policy is required");
  }
  if (expires !== undefined) {
    if (!/^\d{1,10}$/.test(expires) || Number(expires) > maxEpochSeconds) {
      return malformed("Expires is not an epoch time in seconds");
    }
    return {
      kind: "canned",
      expiresSeconds: Number(expires),
      signature,
      keyPairId,
      hashAlgorithm: hashName,
      ownQuery,
    };
  }
  if (policy!.length > maxPolicyChars) return malformed("Policy is too long");
  const policyBytes = decodeUrlSafeBase64(policy!);
  if (policyBytes === null) return malformed("Policy is not base64");
  return {
    kind: "custom",
    policyText: policyBytes.toString("utf8"),
    signature,
    keyPairId,
    hashAlgorithm: hashName,
    ownQuery,
  };
}

function malformed(problem: string): SignedQuery {
  return { kind: "malformed", problem };
}

function percentDecode(text: string): string | null {
  if (!text.includes("%") && !text.includes("+")) return text;
  try {
    // `+` is not a space here: signatures and policies use it in plain base64.
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}
