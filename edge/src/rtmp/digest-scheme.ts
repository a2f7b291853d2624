/**
 * Where the digest sits inside a 1536-byte C1/S1:
 *   scheme 1 — offset = (sum of bytes 8..11) % 728 + 12
 *   scheme 2 — offset = (sum of bytes 772..775) % 728 + 776
 * Flash Player uses scheme 1 for plain RTMP and scheme 2 for RTMPE.
 * In a file of its own so handshake.ts and rtmpe/diffie-hellman.ts (whose key
 * sits at a place the same scheme picks) do not import each other.
 */
export type DigestScheme = 1 | 2;
