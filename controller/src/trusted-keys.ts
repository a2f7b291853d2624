import { readFileSync, type StatWatcher, unwatchFile, watchFile } from "node:fs";
import { z } from "zod";
import type { Logger } from "../../lib/log.js";
import type { PublicKey as WirePublicKey } from "../../proto/gen/streamfront/controller/v1/controller.js";
import { ControllerError, ControllerErrorCode } from "./errors.js";
import { encodedKeyProblem, normalizeEncodedKey } from "./public-key.js";

/**
 * The trusted-keys file (trusted-keys-file): public keys of OTHER accounts
 * whose signatures the edges accept for distributions that name those
 * accounts as TrustedSigners. JSON, one array:
 *
 *   [{ "id": "APKAEIBAERJR2EXAMPLE", "accountId": "111122223333",
 *      "encodedKey": "-----BEGIN PUBLIC KEY-----\n…\n-----END PUBLIC KEY-----\n" }]
 *
 * Every entry is checked (id 1-64 upper-case letters or digits, unique;
 * accountId 12 digits and not this installation's own, whose keys come
 * from CreatePublicKey; encodedKey a PEM RSA public key of ≥ 2048 bits).
 * A problem names the file, the entry and the field.
 */
const entrySchema = z.strictObject({
  id: z.string().regex(/^[A-Z0-9]{1,64}$/, "expected 1-64 upper-case letters or digits"),
  accountId: z.string().regex(/^[0-9]{12}$/, "expected 12 digits"),
  encodedKey: z.string().min(1).max(4096),
});
const fileSchema = z.array(entrySchema).max(10_000);

/** Parses the file's text; throws ControllerError(TrustedKeysFile) naming the field at fault. */
export function parseTrustedKeys(raw: string, path: string, ownAccountId: string): readonly WirePublicKey[] {
  const fail = (message: string): never => {
    throw new ControllerError(ControllerErrorCode.TrustedKeysFile, `trusted-keys-file ${path}: ${message}`);
  };
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    return fail(`not valid JSON (${(error as Error).message})`);
  }
  const parsed = fileSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length
      ? issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("")
      : "the top level";
    return fail(`${where}: ${issue?.message ?? "invalid"} (expected [{id, accountId, encodedKey}])`);
  }
  const seen = new Set<string>();
  return Object.freeze(
    parsed.data.map((entry, i) => {
      if (seen.has(entry.id)) fail(`[${i}].id: ${entry.id} appears twice`);
      seen.add(entry.id);
      if (entry.accountId === ownAccountId) {
        fail(
          `[${i}].accountId: ${entry.accountId} is this installation's own account (account-id); ` +
            "its keys are made with CreatePublicKey",
        );
      }
      const problem = encodedKeyProblem(entry.encodedKey);
      if (problem !== undefined) fail(`[${i}].encodedKey (id ${entry.id}) ${problem}`);
      return Object.freeze({
        id: entry.id,
        accountId: entry.accountId,
        encodedKey: normalizeEncodedKey(entry.encodedKey),
      });
    }),
  );
}

/** What ConfigService reads: the current trusted keys, and a signal when they change. */
export interface TrustedKeySource {
  current(): readonly WirePublicKey[];
  /** Calls listener after each change; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
}

export interface TrustedKeysFileOptions {
  readonly path: string;
  readonly ownAccountId: string;
  readonly logger: Logger;
  /** How often the file's mtime and size are checked (fs.watchFile). @default 2000 */
  readonly pollIntervalMs?: number;
}

/**
 * The trusted-keys file, loaded at start (open throws on any problem, so a
 * bad file stops start-up) and reloaded when its mtime or size changes. A
 * reload that fails keeps the keys loaded before and logs the problem
 * (CONTROLLER_ERR_TRUSTED_KEYS_FILE); polling survives the file being
 * replaced by a rename, which an inotify watch on the file would not.
 */
export class TrustedKeysFile implements TrustedKeySource {
  readonly #o: TrustedKeysFileOptions;
  readonly #listeners = new Set<() => void>();
  #keys: readonly WirePublicKey[];
  #text: string;
  #watcher: StatWatcher | undefined;
  readonly #onChange = () => this.reload();
  /** Reloads seen (applied or failed), for tests and logs. */
  reloads = 0;

  private constructor(options: TrustedKeysFileOptions, text: string, keys: readonly WirePublicKey[]) {
    this.#o = options;
    this.#text = text;
    this.#keys = keys;
  }

  static open(options: TrustedKeysFileOptions): TrustedKeysFile {
    const text = readText(options.path);
    const file = new TrustedKeysFile(
      options,
      text,
      parseTrustedKeys(text, options.path, options.ownAccountId),
    );
    file.#watcher = watchFile(
      options.path,
      { interval: options.pollIntervalMs ?? 2000, persistent: false },
      file.#onChange,
    );
    options.logger.info({ file: options.path, keys: file.#keys.length }, "trusted keys loaded");
    return file;
  }

  current(): readonly WirePublicKey[] {
    return this.#keys;
  }

  subscribe(listener: () => void): () => void {
    const entry = () => listener();
    this.#listeners.add(entry);
    return () => this.#listeners.delete(entry);
  }

  /** Reads the file again; listeners hear of it only when the keys changed. */
  reload(): void {
    this.reloads += 1;
    let text: string;
    let keys: readonly WirePublicKey[];
    try {
      text = readText(this.#o.path);
      if (text === this.#text) return;
      keys = parseTrustedKeys(text, this.#o.path, this.#o.ownAccountId);
    } catch (error) {
      const code = error instanceof ControllerError ? error.code : ControllerErrorCode.TrustedKeysFile;
      this.#o.logger.error(
        { code, err: error, keys: this.#keys.length },
        "trusted-keys file not reloaded; the keys loaded before stay",
      );
      return;
    }
    this.#text = text;
    this.#keys = keys;
    this.#o.logger.info({ file: this.#o.path, keys: keys.length }, "trusted keys reloaded");
    for (const listener of [...this.#listeners]) listener();
  }

  close(): void {
    if (this.#watcher) unwatchFile(this.#o.path, this.#onChange);
    this.#watcher = undefined;
    this.#listeners.clear();
  }
}

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new ControllerError(
      ControllerErrorCode.TrustedKeysFile,
      `trusted-keys-file ${path}: cannot be read (${(error as Error).message})`,
      { cause: error },
    );
  }
}
