import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { inspect } from "node:util";
import { z } from "zod";
import { text } from "../../../../lib/config/schemas.js";
import { ConfigError, setting } from "../../../../lib/config/settings.js";
import { type RandomBytes, randomChars } from "../../ids.js";

/**
 * Operator access keys for the control API: the AWS-style key pairs the SDK
 * and CLI sign requests with. They are configuration, read once at start-up,
 * in one of two forms:
 *
 * - Text: `AKID1:SECRET1,AKID2:SECRET2`. Entries are separated by commas
 *   and/or any whitespace (newlines included), so a file with one pair per
 *   line works too. The id ends at the first colon, so a secret may hold
 *   colons, but not commas or whitespace.
 * - JSON: an object `{"AKID1": "SECRET1", …}`, recognised by its leading "{".
 *   (JSON.parse keeps the last of two equal names, so a repeated id there
 *   goes unnoticed; the text form reports it.)
 *   Either form fits a Kubernetes Secret mounted as a file, e.g.
 *   `kubectl create secret generic streamfront-api-keys --from-file=keys=./keys.txt`.
 *
 * An access key id is 16–128 upper-case letters or digits (AWS's own are
 * AKIA + 16); a secret is 16–128 visible ASCII characters. Errors name the
 * entry by position and line, and print an id only once it has been checked
 * to be one: a secret pasted into the wrong place never reaches a log.
 */

export const accessKeyIdPattern = /^[A-Z0-9]{16,128}$/;
const secretPattern = /^[!-~]{16,128}$/;

export interface AccessKeyPair {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** What authentication needs of a key store: a secret by access key id. */
export interface AccessKeyLookup {
  secretFor(accessKeyId: string): string | undefined;
}

/**
 * A validated, immutable set of key pairs. Printing it (console.log, pino,
 * JSON.stringify, String) shows the access key ids only.
 */
export class AccessKeys implements AccessKeyLookup {
  readonly #secrets: ReadonlyMap<string, string>;

  private constructor(secrets: ReadonlyMap<string, string>) {
    this.#secrets = secrets;
  }

  /** Validates pairs given in code (tests, the generated development pair). */
  static of(pairs: Iterable<AccessKeyPair>, source = "access keys"): AccessKeys {
    const entries: Entry[] = [];
    let position = 0;
    for (const pair of pairs) {
      position++;
      entries.push({
        where: `${source}, entry ${position}`,
        id: pair.accessKeyId,
        secret: pair.secretAccessKey,
      });
    }
    return AccessKeys.#build(entries, source);
  }

  static #build(entries: readonly Entry[], source: string): AccessKeys {
    const secrets = new Map<string, string>();
    const firstSeen = new Map<string, string>();
    for (const entry of entries) {
      if (!accessKeyIdPattern.test(entry.id)) {
        throw new ConfigError(
          `${entry.where}: the access key id must be 16–128 upper-case letters or digits ` +
            `(got ${entry.id.length} characters)`,
        );
      }
      if (!secretPattern.test(entry.secret)) {
        throw new ConfigError(
          `${entry.where} (${entry.id}): the secret must be 16–128 visible ASCII characters ` +
            `without spaces (got ${entry.secret.length} characters)`,
        );
      }
      const earlier = firstSeen.get(entry.id);
      if (earlier !== undefined) {
        throw new ConfigError(`${entry.where}: access key id ${entry.id} is already defined at ${earlier}`);
      }
      firstSeen.set(entry.id, entry.where);
      secrets.set(entry.id, entry.secret);
    }
    if (secrets.size === 0) throw new ConfigError(`${source} holds no access keys`);
    return new AccessKeys(secrets);
  }

  /** Parses the text or JSON form; source names where the text came from, for errors. */
  static parse(content: string, source: string): AccessKeys {
    const trimmed = content.replace(/^\uFEFF/, "").trim();
    const entries = trimmed.startsWith("{") ? jsonEntries(trimmed, source) : textEntries(trimmed, source);
    return AccessKeys.#build(entries, source);
  }

  /** Reads and parses a keys file (e.g. a mounted Kubernetes Secret). */
  static fromFile(path: string): AccessKeys {
    let content: string;
    try {
      content = readFileSync(path, "utf8");
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? "unreadable";
      throw new ConfigError(`cannot read access keys file ${path}: ${code}`);
    }
    return AccessKeys.parse(content, path);
  }

  get size(): number {
    return this.#secrets.size;
  }

  get accessKeyIds(): readonly string[] {
    return [...this.#secrets.keys()];
  }

  has(accessKeyId: string): boolean {
    return this.#secrets.has(accessKeyId);
  }

  secretFor(accessKeyId: string): string | undefined {
    return this.#secrets.get(accessKeyId);
  }

  toJSON(): { accessKeyIds: readonly string[] } {
    return { accessKeyIds: this.accessKeyIds };
  }

  toString(): string {
    return `AccessKeys(${this.accessKeyIds.join(", ")})`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

interface Entry {
  /** e.g. "/etc/keys, entry 2 (line 3)" */
  readonly where: string;
  readonly id: string;
  readonly secret: string;
}

function textEntries(content: string, source: string): Entry[] {
  const entries: Entry[] = [];
  const lines = content.split(/\r?\n/);
  for (const [index, line] of lines.entries()) {
    for (const item of line.split(/[\s,]+/)) {
      if (item.length === 0) continue;
      const where = `${source}, entry ${entries.length + 1} (line ${index + 1})`;
      const colon = item.indexOf(":");
      if (colon === -1) throw new ConfigError(`${where}: expected ACCESS_KEY_ID:SECRET, found no colon`);
      entries.push({ where, id: item.slice(0, colon), secret: item.slice(colon + 1) });
    }
  }
  return entries;
}

function jsonEntries(content: string, source: string): Entry[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(content);
  } catch {
    // JSON.parse's message quotes the text around the fault, which here
    // would be a secret; say where the text came from and nothing more.
    throw new ConfigError(`${source}: starts with "{" but is not valid JSON`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`${source}: expected a JSON object {"ACCESS_KEY_ID": "SECRET", …}`);
  }
  const entries: Entry[] = [];
  for (const [id, secret] of Object.entries(parsed)) {
    const where = `${source}, entry ${entries.length + 1}`;
    if (typeof secret !== "string") {
      throw new ConfigError(`${where}: the secret must be a JSON string (got ${typeof secret})`);
    }
    entries.push({ where, id, secret });
  }
  return entries;
}

/** Alias of AccessKeys.parse, for callers that prefer functions. */
export function parseAccessKeys(content: string, source: string): AccessKeys {
  return AccessKeys.parse(content, source);
}

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
// 64 characters: every byte maps to one without bias.
const secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/**
 * A fresh pair shaped like AWS's (AKIA + 16 upper-case letters or digits; a
 * 40-character Base64-alphabet secret) from the system's secure random
 * source, for single-machine mode where no operator configured keys. The
 * caller shows it once (e.g. at start-up) so the CLI can be configured.
 */
export function generateDevelopmentKeyPair(random: RandomBytes = randomBytes): AccessKeyPair {
  return {
    accessKeyId: `AKIA${randomChars(idAlphabet, 16, random)}`,
    secretAccessKey: randomChars(secretAlphabet, 40, random),
  };
}

/**
 * Settings for the controller's table (spread them into controllerSettings).
 * The inline value's schema accepts any text on purpose: loadConfig quotes a
 * rejected value in its error, and this value is secrets. resolveAccessKeys
 * parses it instead, with errors that never print one.
 */
export const accessKeySettings = {
  apiAccessKeysFile: setting<string>({
    env: "STREAMFRONT_CONTROLLER_API_ACCESS_KEYS_FILE",
    flag: "api-access-keys-file",
    doc:
      "File of control-API access keys (AKID:SECRET entries separated by commas or newlines, " +
      'or a JSON object {"AKID":"SECRET"}), e.g. a mounted Kubernetes Secret.',
    schema: text({ min: 1, max: 4096 }),
    default: "",
  }),
  apiAccessKeys: setting<string>({
    env: "STREAMFRONT_CONTROLLER_API_ACCESS_KEYS",
    flag: "api-access-keys",
    doc:
      "Control-API access keys inline (AKID:SECRET,AKID:SECRET). Prefer the file: " +
      "a flag is visible in the process list.",
    schema: z.string(),
    default: "",
    secret: true,
  }),
} as const;

/**
 * The configured keys, from the file or the inline setting (not both), or
 * undefined when neither is set, in which case single-machine mode may use
 * generateDevelopmentKeyPair().
 */
export function resolveAccessKeys(config: {
  readonly apiAccessKeys: string;
  readonly apiAccessKeysFile: string;
}): AccessKeys | undefined {
  const inline = config.apiAccessKeys.trim();
  if (inline !== "" && config.apiAccessKeysFile !== "") {
    throw new ConfigError(
      `set only one of ${accessKeySettings.apiAccessKeys.env} and ${accessKeySettings.apiAccessKeysFile.env}`,
    );
  }
  if (config.apiAccessKeysFile !== "") return AccessKeys.fromFile(config.apiAccessKeysFile);
  if (inline !== "") return AccessKeys.parse(inline, `setting ${accessKeySettings.apiAccessKeys.env}`);
  return undefined;
}
