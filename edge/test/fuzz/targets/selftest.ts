import { EdgeError, EdgeErrorCode } from "../../../src/errors.js";
import { defineTarget, type Prng, type Target } from "../fuzz-harness.js";

/**
 * A target that misbehaves on purpose, so fuzz.test.ts can check the
 * harness itself: each kind of failure must be caught and pinned to its
 * case. Not part of the default campaign (run it with --target selftest).
 *
 *   behaviour 0: TypeError when the bytes contain 0xab (minimization must shrink to that byte)
 *   behaviour 1: an EdgeError with a code the target does not declare
 *   behaviour 2: a synchronous infinite loop (the watchdog must kill it)
 *   behaviour 3: allocates 128 MiB and never frees it (the memory bound; untouched pages, so cheap)
 *   otherwise:   accepted, or rejected with the declared code
 */

export const SelftestBehaviour = { Crash: 0, WrongCode: 1, Hang: 2, Memory: 3 } as const;

interface SelftestInput {
  behaviour: number;
  data: Buffer;
}

function generate(rng: Prng): SelftestInput {
  const data = rng.bytes(64);
  for (let i = 0; i < data.length; i++) if (data[i] === 0xab) data[i] = 0;
  data[rng.int(0, data.length - 1)] = 0xab;
  return { behaviour: rng.int(0, 11), data };
}

/** Never freed, so no collection during a later case can hide the growth from the harness. */
const leaks: Buffer[] = [];

function execute(input: SelftestInput): void {
  switch (input.behaviour) {
    case SelftestBehaviour.Crash:
      if (input.data.includes(0xab)) throw new TypeError("selftest crash");
      return;
    case SelftestBehaviour.WrongCode:
      throw new EdgeError(EdgeErrorCode.SlowViewer, "selftest wrong code");
    case SelftestBehaviour.Hang:
      for (;;) {
        // Spin until the watchdog terminates the worker.
      }
    case SelftestBehaviour.Memory:
      leaks.push(Buffer.allocUnsafe(128 * 1024 * 1024));
      return;
    default:
      if (input.behaviour % 2 === 0) throw new EdgeError(EdgeErrorCode.AmfInvalid, "selftest rejection");
  }
}

export const selftestTarget: Target = defineTarget<SelftestInput>({
  name: "selftest",
  summary: "a deliberately broken target that checks the harness (crash, wrong code, hang, memory)",
  codes: [EdgeErrorCode.AmfInvalid],
  generate,
  execute,
  bytes: (input) => input.data,
  withBytes: (input, data) => ({ ...input, data }),
  describe: (input) => `behaviour ${input.behaviour}`,
});

/** The behaviour of case `index` under `seed`, for the harness test. */
export function selftestBehaviour(prepared: { describe(): string }): number {
  return Number(prepared.describe().split(" ")[1]);
}
