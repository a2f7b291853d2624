import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/** The benchmark's test file: 2.5 Mbps H.264 + AAC FLV, a keyframe every 2 s. */
export interface BenchMedia {
  readonly path: string;
  readonly bytes: number;
  readonly durationMs: number;
  /** Whole-file bit rate (bytes × 8 / duration), container overhead included. */
  readonly bitsPerSecond: number;
}

const BENCH_MEDIA_SECONDS = 60;
/** Bump when the ffmpeg recipe changes, so a stale cached file is not reused. */
const recipeVersion = 1;
export const BENCH_MEDIA_FILE = `bench-2500k-720p-${BENCH_MEDIA_SECONDS}s-v${recipeVersion}.flv`;

export function defaultMediaCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(base, "streamfront-bench");
}

/**
 * Returns the cached test file, generating it with ffmpeg the first time
 * on this machine (about a minute on two cores). The noise filter keeps
 * x264 from undershooting the bit rate on synthetic frames.
 */
export function ensureBenchMedia(cacheDir: string): BenchMedia {
  const path = join(cacheDir, BENCH_MEDIA_FILE);
  if (!existsSync(path)) {
    mkdirSync(cacheDir, { recursive: true });
    const partial = `${path}.partial-${process.pid}.flv`;
    process.stdout.write(`bench: generating ${path} with ffmpeg (once per machine)\n`);
    const args = [
      "-hide_banner",
      "-loglevel",
      "error",
      "-y",
      "-f",
      "lavfi",
      "-i",
      `testsrc2=size=1280x720:rate=30,noise=alls=12:allf=t+u`,
      "-f",
      "lavfi",
      "-i",
      "sine=frequency=440:sample_rate=44100",
      "-t",
      String(BENCH_MEDIA_SECONDS),
      "-c:v",
      "libx264",
      "-preset",
      "veryfast",
      "-profile:v",
      "main",
      "-pix_fmt",
      "yuv420p",
      "-b:v",
      "2400k",
      "-maxrate",
      "2500k",
      "-bufsize",
      "5000k",
      "-g",
      "60",
      "-keyint_min",
      "60",
      "-sc_threshold",
      "0",
      "-c:a",
      "aac",
      "-b:a",
      "128k",
      "-ac",
      "2",
      "-flvflags",
      "add_keyframe_index",
      "-f",
      "flv",
      partial,
    ];
    const result = spawnSync("ffmpeg", args, { stdio: ["ignore", "inherit", "inherit"] });
    if (result.status !== 0) {
      rmSync(partial, { force: true });
      throw new Error(`ffmpeg exited with ${result.status} while generating ${path}`);
    }
    renameSync(partial, path);
  }
  const bytes = statSync(path).size;
  const durationMs = BENCH_MEDIA_SECONDS * 1000;
  return { path, bytes, durationMs, bitsPerSecond: (bytes * 8) / BENCH_MEDIA_SECONDS };
}
