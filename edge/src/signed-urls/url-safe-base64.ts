/**
 * CloudFront's URL-safe base64 (private-content docs): standard base64 with
 * `+` → `-`, `=` → `_`, `/` → `~`, so a policy or signature can sit in a
 * query without percent-encoding. Signers also send plain base64 (the
 * docs' Flash-player option), so both alphabets are read.
 */

const urlSafeAlphabet = /^[A-Za-z0-9\-_~+/=]*$/;

/**
 * The bytes `text` encodes, or null when it is not base64 of either
 * alphabet (a tampered value must be refused, not half-decoded:
 * Buffer.from(…, "base64") silently skips characters it does not know).
 */
export function decodeUrlSafeBase64(text: string): Buffer | null {
  if (!urlSafeAlphabet.test(text)) return null;
  const standard = text.replace(/[-_~]/g, (c) => (c === "-" ? "+" : c === "_" ? "=" : "/"));
  const unpadded = standard.replace(/=+$/, "");
  if (unpadded.includes("=") || unpadded.length % 4 === 1) return null;
  return Buffer.from(unpadded, "base64");
}

/** `bytes` in CloudFront's URL-safe base64 (what a signer writes). */
export function encodeUrlSafeBase64(bytes: Uint8Array | string): string {
  return Buffer.from(bytes)
    .toString("base64")
    .replace(/[+=/]/g, (c) => (c === "+" ? "-" : c === "=" ? "_" : "~"));
}
