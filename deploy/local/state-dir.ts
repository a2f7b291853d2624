import { constants } from "node:fs";
import { access, mkdir, mkdtemp, open, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { type AccessKeyPair, generateDevelopmentKeyPair } from "../../controller/src/api/auth/access-keys.js";
import { StreamfrontError } from "../../lib/errors.js";

/** Stable codes of npm start's single-machine system (README: Error codes). */
export const LocalErrorCode = {
  /** The state folder cannot be used (a file, not writable, a key file unreadable): npm start exits. */
  StateDir: "LOCAL_ERR_STATE_DIR",
} as const;
export type LocalErrorCode = (typeof LocalErrorCode)[keyof typeof LocalErrorCode];

/** The state folder cannot be used (a file, not writable, a key file unreadable). */
export class StateDirError extends StreamfrontError {
  declare readonly code: LocalErrorCode;

  constructor(message: string, options?: ErrorOptions) {
    super(LocalErrorCode.StateDir, message, options);
    this.name = "StateDirError";
  }
}

/** The setting's value that means "keep nothing": a temporary folder removed at stop. */
export const ephemeralStateDir = "none";

/** How the error names the setting the folder came from. */
const settingName = "state-dir (--state-dir, STREAMFRONT_LOCAL_STATE_DIR)";

/**
 * What `npm start` keeps between runs, all in one folder:
 *
 *   api-keys            the control API's key pair (AKID:SECRET, mode 0600)
 *   s3-keys             the embedded S3's key pair (AKID:SECRET, mode 0600)
 *   s3/                 the embedded S3's buckets and objects (s3rver's folder)
 *   distributions.json  the controller's distributions (its store-file)
 *   lock                the pid of the npm start using the folder (removed at stop)
 *
 * Each key pair is generated the first time and read back afterwards.
 */
export class StateDir {
  readonly dir: string;
  /** True for a temporary folder that remove() deletes. */
  readonly ephemeral: boolean;
  readonly apiKeys: AccessKeyPair;
  readonly s3Keys: AccessKeyPair;

  private constructor(dir: string, ephemeral: boolean, apiKeys: AccessKeyPair, s3Keys: AccessKeyPair) {
    this.dir = dir;
    this.ephemeral = ephemeral;
    this.apiKeys = apiKeys;
    this.s3Keys = s3Keys;
  }

  get s3DataDir(): string {
    return join(this.dir, "s3");
  }

  get storeFile(): string {
    return join(this.dir, "distributions.json");
  }

  /** The edge's access-log spool: lines not yet delivered survive a restart of npm start. */
  get accessLogSpoolDir(): string {
    return join(this.dir, "access-log-spool");
  }

  /**
   * Opens (creating when missing) the folder at path, or a temporary one for
   * ephemeralStateDir. Throws StateDirError naming the setting when the
   * folder cannot be used.
   */
  static async open(path: string): Promise<StateDir> {
    const ephemeral = path === ephemeralStateDir;
    const dir = ephemeral ? await mkdtemp(join(tmpdir(), "streamfront-state-")) : path;
    if (!ephemeral) {
      await usableFolder(dir);
      await lock(join(dir, "lock"));
    }
    const apiKeys = await keyPairFile(join(dir, "api-keys"));
    const s3Keys = await keyPairFile(join(dir, "s3-keys"));
    await mkdir(join(dir, "s3"), { recursive: true });
    return new StateDir(dir, ephemeral, apiKeys, s3Keys);
  }

  /** Deletes an ephemeral folder; a kept one stays, unlocked. */
  async remove(): Promise<void> {
    if (this.ephemeral) await rm(this.dir, { recursive: true, force: true });
    else await rm(join(this.dir, "lock"), { force: true });
  }
}

/**
 * One npm start per folder: two would overwrite each other's distributions
 * and objects. The lock file holds the owner's pid; one whose process is
 * gone (a crash, a kill -9) is taken over.
 */
async function lock(file: string): Promise<void> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, "wx", 0o600);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new StateDirError(`${settingName}: cannot write ${file}: ${(error as Error).message}`, {
          cause: error,
        });
      }
    }
    const owner = Number.parseInt(await readFile(file, "utf8").catch(() => ""), 10);
    if (Number.isInteger(owner) && owner > 0 && isAlive(owner)) {
      throw new StateDirError(
        `${settingName}: ${dirname(file)} is in use by another npm start (pid ${owner}); stop it, choose another folder, or delete ${file} if no npm start is running`,
      );
    }
    await rm(file, { force: true });
  }
  throw new StateDirError(`${settingName}: could not lock ${file}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function usableFolder(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === "EEXIST" || code === "ENOTDIR"
        ? "it (or a folder above it) is a file"
        : (error as Error).message;
    throw new StateDirError(`${settingName}: cannot use ${dir}: ${why}`, { cause: error });
  }
  const info = await stat(dir);
  if (!info.isDirectory()) throw new StateDirError(`${settingName}: ${dir} is not a folder`);
  try {
    await access(dir, constants.W_OK | constants.X_OK);
  } catch (error) {
    throw new StateDirError(`${settingName}: ${dir} is not writable`, { cause: error });
  }
}

/** The pair in file, or a new pair written there (mode 0600, never overwriting). */
/**
 * The control API key pair a running (or earlier) npm start keeps in `dir`,
 * read without taking the folder's lock: for commands that talk to the
 * cluster npm start runs (npm run sign-url).
 */
export async function readApiKeys(dir: string): Promise<AccessKeyPair> {
  const file = join(dir, "api-keys");
  try {
    return parsePair(await readFile(file, "utf8"), file);
  } catch (error) {
    if (error instanceof StateDirError) throw error;
    throw new StateDirError(
      `${settingName}: cannot read ${file} (has npm start run with this state folder?): ${(error as Error).message}`,
      { cause: error },
    );
  }
}

async function keyPairFile(file: string): Promise<AccessKeyPair> {
  try {
    return parsePair(await readFile(file, "utf8"), file);
  } catch (error) {
    if (error instanceof StateDirError) throw error;
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new StateDirError(`${settingName}: cannot read ${file}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
  const pair = generateDevelopmentKeyPair();
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    // wx: two starts racing never overwrite each other's pair.
    handle = await open(file, "wx", 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST")
      return parsePair(await readFile(file, "utf8"), file);
    throw new StateDirError(`${settingName}: cannot write ${file}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  try {
    await handle.writeFile(`${pair.accessKeyId}:${pair.secretAccessKey}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return pair;
}

function parsePair(text: string, file: string): AccessKeyPair {
  const match = /^([A-Z0-9]{16,128}):(\S{16,128})\s*$/.exec(text);
  if (!match) {
    throw new StateDirError(
      `${settingName}: ${file} does not hold one AKID:SECRET pair; delete it to have a new pair generated`,
    );
  }
  return { accessKeyId: match[1]!, secretAccessKey: match[2]! };
}
