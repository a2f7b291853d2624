import { type Cipher, createCipheriv, getCiphers } from "node:crypto";
import { EdgeError, EdgeErrorCode } from "../../errors.js";
import type { StreamCipher } from "./keystream.js";

/**
 * RC4 (ARC4), the stream cipher of RTMPE, in two interchangeable forms.
 *
 * Node 20 bundles OpenSSL 3, whose default provider dropped RC4 (and
 * Blowfish) into the "legacy" provider. `crypto.createCipheriv("rc4", …)`
 * therefore works only when Node runs with `--openssl-legacy-provider`
 * (or an OpenSSL config that loads it). So:
 *   - `Rc4` is a pure TypeScript RC4 that always works. RC4 has no
 *     Buffer-level shortcut: every output byte needs a swap in the state
 *     array, so it is one tight loop over a Uint8Array with the indices in
 *     locals, writing into a preallocated output.
 *   - When this process can use OpenSSL's RC4 (probed once at load: listed
 *     by getCiphers() and producing the RFC 6229 keystream) `createRc4`
 *     prefers it, being native code.
 * Both yield byte-identical keystreams (tested against RFC 6229 vectors,
 * the native one in a child Node started with the legacy provider).
 */

export type Rc4Implementation = "pure" | "native";

export class Rc4 implements StreamCipher {
  readonly #s = new Uint8Array(256);
  #i = 0;
  #j = 0;

  /** @throws RangeError for a key outside 1..256 bytes. */
  constructor(key: Uint8Array) {
    if (key.length < 1 || key.length > 256)
      throw new RangeError(`RC4 key of ${key.length} bytes; expected 1..256`);
    const s = this.#s;
    for (let i = 0; i < 256; i += 1) s[i] = i;
    let j = 0;
    for (let i = 0; i < 256; i += 1) {
      const si = s[i]!;
      j = (j + si + key[i % key.length]!) & 0xff;
      s[i] = s[j]!;
      s[j] = si;
    }
  }

  /** `bytes` XOR the next `bytes.length` keystream bytes, as a new Buffer. */
  update(bytes: Buffer): Buffer {
    const out = Buffer.allocUnsafe(bytes.length);
    this.process(bytes, out);
    return out;
  }

  /**
   * Writes `input` XOR keystream to `output[0..input.length)`. `output` may
   * be `input` itself (in-place).
   */
  process(input: Uint8Array, output: Uint8Array): void {
    const s = this.#s;
    const n = input.length;
    let i = this.#i;
    let j = this.#j;
    for (let k = 0; k < n; k += 1) {
      i = (i + 1) & 0xff;
      const si = s[i]!;
      j = (j + si) & 0xff;
      const sj = s[j]!;
      s[i] = sj;
      s[j] = si;
      output[k] = input[k]! ^ s[(si + sj) & 0xff]!;
    }
    this.#i = i;
    this.#j = j;
  }
}

/** OpenSSL's RC4 behind the same interface (no final(), no other Cipher methods). */
class NativeRc4 implements StreamCipher {
  readonly #cipher: Cipher;

  constructor(key: Uint8Array) {
    this.#cipher = createCipheriv("rc4", key, null);
  }

  update(bytes: Buffer): Buffer {
    return this.#cipher.update(bytes);
  }
}

/** RFC 6229, key 0x0102030405: the first 8 keystream bytes. */
const PROBE_KEY = Buffer.from("0102030405", "hex");
const PROBE_KEYSTREAM = Buffer.from("b2396305f03dc027", "hex");

function probeNativeRc4(): boolean {
  try {
    if (!getCiphers().includes("rc4")) return false;
    return new NativeRc4(PROBE_KEY).update(Buffer.alloc(PROBE_KEYSTREAM.length)).equals(PROBE_KEYSTREAM);
  } catch {
    return false;
  }
}

/** Whether this process can use OpenSSL's RC4 (Node started with the legacy provider). */
export const NATIVE_RC4_AVAILABLE: boolean = probeNativeRc4();

/** What `createRc4` uses when not told: native when available. */
export const DEFAULT_RC4_IMPLEMENTATION: Rc4Implementation = NATIVE_RC4_AVAILABLE ? "native" : "pure";

/**
 * A new RC4 keystream for `key`.
 * @throws EdgeError Rc4Unavailable when "native" is asked for but unavailable; RangeError for a bad key length.
 */
export function createRc4(key: Uint8Array, implementation = DEFAULT_RC4_IMPLEMENTATION): StreamCipher {
  if (implementation === "pure") return new Rc4(key);
  if (!NATIVE_RC4_AVAILABLE) {
    throw new EdgeError(
      EdgeErrorCode.Rc4Unavailable,
      "OpenSSL RC4 is not available in this process (start Node with --openssl-legacy-provider)",
    );
  }
  return new NativeRc4(key);
}
