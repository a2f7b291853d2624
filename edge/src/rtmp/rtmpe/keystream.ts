/**
 * A keystream cipher. `update` returns a new Buffer and never touches its
 * argument, so a Buffer shared with other connections can be passed in.
 * Each call continues the keystream: bytes must go through it in exactly
 * the order they cross the wire, each byte once.
 */
export interface StreamCipher {
  update(bytes: Buffer): Buffer;
}
