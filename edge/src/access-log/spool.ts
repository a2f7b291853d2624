import { createHash } from "node:crypto";
import {
  closeSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { logHourOf, logKeyProblem } from "../../../lib/access-log-key.js";
import type { Logger } from "../../../lib/log.js";
import { EdgeErrorCode } from "../errors.js";
import { accessLogHeader } from "./w3c-line.js";

/** A file the spool closed, waiting for delivery: everything its S3 key needs. */
export interface SealedLogFile {
  readonly distributionId: string;
  /** YYYY-MM-DD-HH (UTC) of its lines. */
  readonly hour: string;
  /** The key's unique part: node id hash + sequence, fixed when the file was created. */
  readonly unique: string;
  readonly sequence: number;
  readonly path: string;
  readonly bytes: number;
}

export interface AccessLogSpoolOptions {
  readonly dir: string;
  /** This edge's node id: the front of every unique, so two edges never name the same key. */
  readonly nodeId: string;
  /** Bound on the bytes of every file in the spool, open and sealed; a line that does not fit is dropped. */
  readonly maxBytes: number;
  /** Bound on one file: it is sealed when the next line would pass it (one delivery must fit a gRPC message). */
  readonly maxFileBytes: number;
  readonly logger: Logger;
  /** Lines dropped because the spool was full. */
  onDropped?(lines: number): void;
}

interface OpenFile {
  readonly distributionId: string;
  readonly hour: string;
  readonly unique: string;
  readonly sequence: number;
  readonly path: string;
  readonly fd: number;
  bytes: number;
}

const sequenceFile = "sequence";
/** <unique>.<distribution>.<hour>.log while written, .sealed once closed. */
const fileNamePattern =
  /^([0-9a-f]{12})([0-9a-f]{12})\.([A-Za-z0-9]+)\.(\d{4}-\d{2}-\d{2}-\d{2})\.(log|sealed)$/;

/**
 * The access-log spool on local disk. A line is logged once append()
 * returned: it was written to its file with write(2), so it survives the
 * edge being killed (the kernel has it); seal() fsyncs. Files are per
 * distribution per UTC hour, each at most maxFileBytes, and every file is
 * named by a unique fixed at creation — (node id hash, sequence), the
 * sequence persisted before the file exists — so delivering a file again
 * after a crash writes the same key with the same bytes: no duplicates.
 * At open, files a killed process left are picked up: sealed ones as they
 * are, open ones cut after their last whole line and sealed.
 */
export class AccessLogSpool {
  readonly #options: AccessLogSpoolOptions;
  readonly #nodeHash: string;
  readonly #open = new Map<string, OpenFile>();
  readonly #sealed = new Map<number, SealedLogFile>();
  #nextSequence = 0;
  #bytes = 0;
  /** The spool is dropping lines: logged once when it fills and once when it has room again. */
  #full = false;
  #droppedSinceFull = 0;

  constructor(options: AccessLogSpoolOptions) {
    this.#options = options;
    this.#nodeHash = createHash("sha256").update(options.nodeId).digest("hex").slice(0, 12);
    mkdirSync(options.dir, { recursive: true });
    this.#recover();
  }

  /** Bytes of every file in the spool. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Sealed files in sequence order (oldest first). */
  sealed(): SealedLogFile[] {
    return [...this.#sealed.values()].sort((a, b) => a.sequence - b.sequence);
  }

  /**
   * Writes one line (newline included) of a distribution's log for the hour
   * of timeMs. False when it was dropped because the spool is full.
   */
  append(distributionId: string, timeMs: number, line: string): boolean {
    const hour = logHourOf(timeMs);
    const bytes = Buffer.from(line, "utf8");
    const key = `${distributionId}\n${hour}`;
    let file = this.#open.get(key);
    if (file && file.bytes + bytes.length > this.#options.maxFileBytes) {
      this.#seal(file);
      file = undefined;
    }
    const header = file ? 0 : Buffer.byteLength(accessLogHeader);
    if (this.#bytes + header + bytes.length > this.#options.maxBytes) {
      this.#drop();
      return false;
    }
    if (!file) file = this.#create(distributionId, hour);
    writeAll(file.fd, bytes);
    file.bytes += bytes.length;
    this.#bytes += bytes.length;
    if (this.#full) {
      this.#full = false;
      this.#options.logger.info(
        { dropped: this.#droppedSinceFull, spoolBytes: this.#bytes },
        "access-log spool has room again",
      );
      this.#droppedSinceFull = 0;
    }
    return true;
  }

  /** Seals every open file (the delivery interval): fsync, close, rename to .sealed. */
  sealAll(): void {
    for (const file of [...this.#open.values()]) this.#seal(file);
  }

  /** The file's bytes (the W3C text, not yet gzipped). */
  read(file: SealedLogFile): Buffer {
    return readFileSync(file.path);
  }

  /** Deletes a delivered (or abandoned) file. */
  remove(file: SealedLogFile): void {
    if (!this.#sealed.delete(file.sequence)) return;
    unlinkSync(file.path);
    this.#bytes -= file.bytes;
  }

  /** Seals and closes everything (shutdown). */
  close(): void {
    this.sealAll();
  }

  #create(distributionId: string, hour: string): OpenFile {
    const sequence = this.#allocateSequence();
    const unique = `${this.#nodeHash}${sequence.toString(16).padStart(12, "0")}`;
    const problem = logKeyProblem(distributionId, hour, unique);
    if (problem) throw new Error(`access log of ${JSON.stringify(distributionId)}: ${problem}`);
    const path = join(this.#options.dir, `${unique}.${distributionId}.${hour}.log`);
    const fd = openSync(path, "wx");
    const header = Buffer.from(accessLogHeader);
    writeAll(fd, header);
    const file: OpenFile = { distributionId, hour, unique, sequence, path, fd, bytes: header.length };
    this.#bytes += header.length;
    this.#open.set(`${distributionId}\n${hour}`, file);
    return file;
  }

  #seal(file: OpenFile): void {
    fsyncSync(file.fd);
    closeSync(file.fd);
    const sealedPath = file.path.replace(/\.log$/, ".sealed");
    renameSync(file.path, sealedPath);
    this.#syncDir();
    this.#open.delete(`${file.distributionId}\n${file.hour}`);
    this.#sealed.set(file.sequence, {
      distributionId: file.distributionId,
      hour: file.hour,
      unique: file.unique,
      sequence: file.sequence,
      path: sealedPath,
      bytes: file.bytes,
    });
  }

  /**
   * The next file's sequence, persisted (write, fsync, rename) before the
   * file is created: a restart never hands out a sequence again, even
   * after every file was delivered and deleted.
   */
  #allocateSequence(): number {
    const sequence = this.#nextSequence++;
    const tmp = join(this.#options.dir, `${sequenceFile}.tmp`);
    const fd = openSync(tmp, "w");
    try {
      writeAll(fd, Buffer.from(`${this.#nextSequence}\n`));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, join(this.#options.dir, sequenceFile));
    this.#syncDir();
    return sequence;
  }

  #drop(): void {
    this.#options.onDropped?.(1);
    this.#droppedSinceFull++;
    if (this.#full) return;
    this.#full = true;
    this.#options.logger.warn(
      { code: EdgeErrorCode.AccessLogSpoolFull, spoolBytes: this.#bytes, maxBytes: this.#options.maxBytes },
      "access-log spool is full: dropping access-log lines until files are delivered",
    );
  }

  #recover(): void {
    const dir = this.#options.dir;
    let stored = 0;
    try {
      stored = Number.parseInt(readFileSync(join(dir, sequenceFile), "utf8"), 10) || 0;
    } catch {
      stored = 0;
    }
    let next = stored;
    for (const name of readdirSync(dir)) {
      const match = fileNamePattern.exec(name);
      if (!match) continue;
      const [, hash, seqHex, distributionId, hour, state] = match as unknown as [
        string,
        string,
        string,
        string,
        string,
        string,
      ];
      const sequence = Number.parseInt(seqHex, 16);
      next = Math.max(next, sequence + 1);
      let path = join(dir, name);
      if (state === "log") path = this.#sealLeftover(path);
      const bytes = statSync(path).size;
      this.#bytes += bytes;
      this.#sealed.set(sequence, { distributionId, hour, unique: `${hash}${seqHex}`, sequence, path, bytes });
    }
    this.#nextSequence = next;
    if (this.#sealed.size > 0)
      this.#options.logger.info(
        { files: this.#sealed.size, spoolBytes: this.#bytes },
        "access-log files left by an earlier run will be delivered",
      );
  }

  /** A file a killed process was writing: cut after its last whole line, fsynced, sealed. */
  #sealLeftover(path: string): string {
    const text = readFileSync(path);
    const end = text.lastIndexOf(0x0a) + 1;
    const fd = openSync(path, "r+");
    try {
      if (end < text.length) ftruncateSync(fd, end);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    const sealedPath = path.replace(/\.log$/, ".sealed");
    renameSync(path, sealedPath);
    this.#syncDir();
    return sealedPath;
  }

  #syncDir(): void {
    const fd = openSync(this.#options.dir, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}

function writeAll(fd: number, bytes: Buffer): void {
  let written = 0;
  while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
}
