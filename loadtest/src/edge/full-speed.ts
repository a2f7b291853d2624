import { fixed, table } from "../harness/stats.js";
import { basePlan, helperText, summarise } from "./load-run.js";
import type { EdgeMeasurement } from "./measurement.js";

/**
 * Full speed: every viewer plays the whole file with a large client buffer,
 * so a server sends as fast as it can. The result is the server's CPU
 * seconds per GB delivered.
 */
export const fullSpeed: EdgeMeasurement = {
  mode: "full",
  viewers: (o) => o.fullViewers,
  plan: (server, o, media, viewers) => ({
    ...basePlan(server, media),
    viewers,
    bufferMs: o.fullBufferMs,
    mode: "full",
    seconds: 0,
    deadlineMs: 90_000 + viewers * 2000,
  }),
  report(o, records) {
    const rows = o.servers.flatMap((name) => {
      const s = summarise(records, name, "full");
      if (!s) return [];
      return [
        [
          name,
          fixed(s.throughputMBps, 1),
          fixed(s.serverCpuS, 2),
          `${fixed(s.serverCoreShare * 100, 0)}%`,
          fixed(s.cpuSPerGB, 2),
          helperText(s),
          `${fixed(s.generatorCoreShare * 100, 0)}%`,
          String(s.errors),
        ],
      ];
    });
    return [
      "",
      `Full speed: ${o.fullViewers} concurrent viewers × whole file, SetBufferLength ${o.fullBufferMs} ms`,
      table(["server", "MB/s", "CPU s", "core", "CPU s/GB", "also (CPU s)", "generator", "errors"], rows),
    ];
  },
};
