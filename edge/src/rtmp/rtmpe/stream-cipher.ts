import { createHmac } from "node:crypto";
import type { StreamCipher } from "./keystream.js";
import { createRc4, type Rc4Implementation } from "./rc4.js";

export type { StreamCipher } from "./keystream.js";

/** The two RC4 streams of one RTMPE connection, seen from this side. */
export interface RtmpeCiphers {
  /** For every byte read from the peer after the handshake, in arrival order. */
  readonly decrypt: StreamCipher;
  /** For every byte written to the peer after the handshake, in write order. */
  readonly encrypt: StreamCipher;
}

const RTMPE_KEY_SIZE = 16;
/** Both keystreams are advanced by one handshake packet's worth before use. */
export const RTMPE_KEYSTREAM_SKIP = 1536;

/** First 16 bytes of HMAC-SHA256(shared secret, public key). */
export function rtmpeRc4Key(sharedSecret: Buffer, publicKey: Buffer): Buffer {
  return createHmac("sha256", sharedSecret).update(publicKey).digest().subarray(0, RTMPE_KEY_SIZE);
}

/**
 * The ciphers of one side of an RTMPE connection. Each side encrypts with
 * the key made from the *peer's* public key and decrypts with the one made
 * from its own (librtmp's InitRC4Encryption; the two sides mirror each
 * other). Both keystreams are already advanced by 1536 bytes.
 */
export function createRtmpeCiphers(
  sharedSecret: Buffer,
  ownPublicKey: Buffer,
  peerPublicKey: Buffer,
  implementation?: Rc4Implementation,
): RtmpeCiphers {
  const encrypt = createRc4(rtmpeRc4Key(sharedSecret, peerPublicKey), implementation);
  const decrypt = createRc4(rtmpeRc4Key(sharedSecret, ownPublicKey), implementation);
  const skip = Buffer.alloc(RTMPE_KEYSTREAM_SKIP);
  encrypt.update(skip);
  decrypt.update(skip);
  return { decrypt, encrypt };
}
