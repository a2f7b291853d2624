import { fixed, table } from "../harness/stats.js";
import { basePlan, helperText, summarise } from "./load-run.js";
import type { EdgeMeasurement } from "./measurement.js";

/**
 * Real time: many viewers with a small client buffer for a fixed time, so a
 * server must pace every stream. The results are the server's CPU per
 * stream-second and whether every stream stayed smooth (worst stall).
 */
export const realtime: EdgeMeasurement = {
  mode: "realtime",
  viewers: (o) => o.rtViewers,
  plan: (server, o, media, viewers) => ({
    ...basePlan(server, media),
    viewers,
    bufferMs: o.rtBufferMs,
    mode: "realtime",
    seconds: o.rtSeconds,
    deadlineMs: o.rtSeconds * 1000 + 30_000,
  }),
  report(o, records) {
    const rows = o.servers.flatMap((name) => {
      const s = summarise(records, name, "realtime");
      if (!s) return [];
      return [
        [
          name,
          fixed(s.throughputMBps, 1),
          fixed(s.serverCpuS, 2),
          `${fixed(s.serverCoreShare * 100, 0)}%`,
          fixed(s.cpuMsPerStreamSecond, 3),
          fixed(s.cpuSPerGB, 2),
          fixed(s.worstStallMs, 0),
          fixed(s.startupP50Ms, 0),
          fixed(s.leadP50Ms / 1000, 1),
          helperText(s),
          String(s.errors),
        ],
      ];
    });
    return [
      "",
      `Real time: ${o.rtViewers} concurrent viewers × ${o.rtSeconds} s, SetBufferLength ${o.rtBufferMs} ms`,
      table(
        [
          "server",
          "MB/s",
          "CPU s",
          "core",
          "CPU ms/stream-s",
          "CPU s/GB",
          "worst stall ms",
          "startup p50 ms",
          "lead s",
          "also (CPU s)",
          "errors",
        ],
        rows,
      ),
    ];
  },
};
