import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { list, oneOf } from "../config/schemas.js";
import type { Setting } from "../config/settings.js";
import type { Logger } from "../log.js";
import { type TracerName, tracerChannels } from "./channels.js";

/**
 * The trace setting of a component (STREAMFRONT_EDGE_TRACE=edge:session,…):
 * the named tracers whose events are written to the log. A name the
 * component does not have is refused at start like any bad setting (exit 2).
 */
export function traceSetting<const T extends readonly [TracerName, ...TracerName[]]>(
  envPrefix: string,
  tracers: T,
): Setting<readonly T[number][]> {
  return {
    env: `${envPrefix}_TRACE`,
    flag: "trace",
    doc: `Tracers whose events are logged (at debug, whatever log-level says), comma-separated: ${tracers.join(", ")}. Empty: none, and tracing costs nothing.`,
    schema: list(oneOf(tracers)) as Setting<readonly T[number][]>["schema"],
    default: [],
  };
}

/**
 * The built-in subscriber: every event of the named tracers becomes one
 * JSON log line `{"level":"debug","tracer":…,"channel":…,…fields,"msg":"trace"}`
 * on a child of the component's logger that writes debug whatever the
 * component's level, so an operator traces without code and without
 * turning on every other debug line. Returns what unsubscribes it all.
 */
export function startTraceLog(logger: Logger, tracers: readonly TracerName[]): () => void {
  const subscriptions: { name: string; onMessage: (message: unknown, name: string | symbol) => void }[] = [];
  for (const tracer of new Set(tracers)) {
    const log = logger.child({ tracer }, { level: "debug" });
    for (const name of tracerChannels[tracer]) {
      const onMessage = (message: unknown) => {
        log.debug({ channel: name, ...(message as Record<string, unknown>) }, "trace");
      };
      subscribe(name, onMessage);
      subscriptions.push({ name, onMessage });
    }
  }
  return () => {
    for (const { name, onMessage } of subscriptions) unsubscribe(name, onMessage);
    subscriptions.length = 0;
  };
}
