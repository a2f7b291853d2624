import { resolve } from "node:path";
import { integerOption, listOption, parseBenchArgs } from "../harness/options.js";
import { defaultMediaCacheDir } from "./bench-media.js";

const usage = `usage: node dist/loadtest/src/bench-edge.js [options]
  --runs N               measured runs per server and mode; medians are reported (default 3)
  --full-viewers N       concurrent viewers in full-speed mode, each plays the whole file (default 50)
  --full-buffer-ms MS    SetBufferLength in full-speed mode (default 3600000)
  --rt-viewers N         concurrent viewers in real-time mode (default 100)
  --rt-seconds S         length of a real-time run (default 30)
  --rt-buffer-ms MS      SetBufferLength in real-time mode (default 3000)
  --warmup-viewers N     full-speed viewers per server before measuring (default 10)
  --signed-urls N        distinct signed names the signed-URL gate's cost is measured over, in process (default 1000; 0 skips)
  --modes LIST           full,realtime (default both)
  --servers LIST         edge,nginx (default both; ratios need both)
  --pin                  pin the server under test to CPU 0 and everything else to CPU 1
  --media-cache DIR      where the generated FLV is kept (default $XDG_CACHE_HOME or ~/.cache/streamfront-bench)
  --out FILE             also write the results as JSON
  --max-minutes M        wall-clock cap for the whole benchmark (default 25)`;

export type ServerName = "edge" | "nginx";
/** The measurements: full-speed.ts and realtime.ts. */
export type ModeName = "full" | "realtime";

export interface EdgeBenchOptions {
  runs: number;
  fullViewers: number;
  fullBufferMs: number;
  rtViewers: number;
  rtSeconds: number;
  rtBufferMs: number;
  warmupViewers: number;
  signedUrls: number;
  modes: ModeName[];
  servers: ServerName[];
  pin: boolean;
  mediaCache: string;
  out: string | null;
  maxMinutes: number;
}

export function parseEdgeBenchOptions(argv: readonly string[]): EdgeBenchOptions {
  const values = parseBenchArgs(argv, usage, {
    runs: { type: "string" },
    "full-viewers": { type: "string" },
    "full-buffer-ms": { type: "string" },
    "rt-viewers": { type: "string" },
    "rt-seconds": { type: "string" },
    "rt-buffer-ms": { type: "string" },
    "warmup-viewers": { type: "string" },
    "signed-urls": { type: "string" },
    modes: { type: "string" },
    servers: { type: "string" },
    pin: { type: "boolean" },
    "media-cache": { type: "string" },
    out: { type: "string" },
    "max-minutes": { type: "string" },
  });
  return {
    runs: integerOption("runs", values.runs, 3, 1, 20),
    fullViewers: integerOption("full-viewers", values["full-viewers"], 50, 1, 2000),
    fullBufferMs: integerOption("full-buffer-ms", values["full-buffer-ms"], 3_600_000, 0, 36_000_000),
    rtViewers: integerOption("rt-viewers", values["rt-viewers"], 100, 1, 5000),
    rtSeconds: integerOption("rt-seconds", values["rt-seconds"], 30, 5, 600),
    rtBufferMs: integerOption("rt-buffer-ms", values["rt-buffer-ms"], 3000, 0, 60_000),
    warmupViewers: integerOption("warmup-viewers", values["warmup-viewers"], 10, 0, 500),
    signedUrls: integerOption("signed-urls", values["signed-urls"], 1000, 0, 100_000),
    modes: listOption("modes", values.modes, ["full", "realtime"] as const),
    servers: listOption("servers", values.servers, ["edge", "nginx"] as const),
    pin: values.pin ?? false,
    mediaCache: values["media-cache"] ?? defaultMediaCacheDir(),
    out: values.out ? resolve(values.out) : null,
    maxMinutes: integerOption("max-minutes", values["max-minutes"], 25, 1, 240),
  };
}
