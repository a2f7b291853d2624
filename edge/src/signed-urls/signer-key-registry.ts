import { createHash, createPublicKey, type KeyObject } from "node:crypto";
import type { PublicKey } from "../../../lib/config-watcher.js";
import type { SignerKey, SignerKeys } from "./signed-url-verifier.js";

/** Where the registry reads the pushed keys: a new map object after every change. */
export interface PublicKeySource {
  publicKeys(): ReadonlyMap<string, PublicKey>;
}

/** An encoded key the edge could not read (reported once per key version). */
export interface UnusableKey {
  readonly id: string;
  readonly problem: string;
}

/**
 * The controller's public keys as SignerKeys: each PEM parsed once (a
 * KeyObject is reused for as long as the pushed key is unchanged), RSA
 * only — CloudFront's public keys and key pairs are RSA. A key that does
 * not parse signs nothing; it is reported through `onUnusable` once.
 */
export class SignerKeyRegistry implements SignerKeys {
  readonly #source: PublicKeySource;
  readonly #onUnusable: (key: UnusableKey) => void;
  #seen: ReadonlyMap<string, PublicKey> | undefined;
  #keys = new Map<string, SignerKey>();
  /** Parsed keys by encoded text, so an unchanged key is not parsed again. */
  #parsed = new Map<string, KeyObject | string>();

  constructor(source: PublicKeySource, onUnusable: (key: UnusableKey) => void = () => {}) {
    this.#source = source;
    this.#onUnusable = onUnusable;
  }

  get(keyPairId: string): SignerKey | undefined {
    this.#refresh();
    return this.#keys.get(keyPairId);
  }

  #refresh(): void {
    const current = this.#source.publicKeys();
    if (current === this.#seen) return;
    this.#seen = current;
    const keys = new Map<string, SignerKey>();
    const parsed = new Map<string, KeyObject | string>();
    for (const pushed of current.values()) {
      let key = this.#parsed.get(pushed.encodedKey);
      const known = key !== undefined;
      if (key === undefined) key = parseRsaPublicKey(pushed.encodedKey);
      parsed.set(pushed.encodedKey, key);
      if (typeof key === "string") {
        if (!known) this.#onUnusable({ id: pushed.id, problem: key });
        continue;
      }
      keys.set(pushed.id, {
        id: pushed.id,
        account: pushed.accountId,
        publicKey: key,
        fingerprint: createHash("sha256").update(pushed.encodedKey).digest("hex"),
      });
    }
    this.#keys = keys;
    this.#parsed = parsed;
  }
}

/** The key, or what is wrong with it. */
function parseRsaPublicKey(pem: string): KeyObject | string {
  try {
    const key = createPublicKey(pem);
    if (key.asymmetricKeyType !== "rsa") return `not an RSA key (${key.asymmetricKeyType ?? "unknown"})`;
    return key;
  } catch (error) {
    return `not a PEM public key (${error instanceof Error ? error.message : String(error)})`;
  }
}
