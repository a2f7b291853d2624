import type { EdgeErrorCode } from "../../../src/errors.js";
import { defineTarget, type Prng, type Target } from "../fuzz-harness.js";
import { mutate, randomBytes } from "../mutators.js";

/**
 * A target for any pure `(bytes) => unknown` entry point: random bytes,
 * and the given valid seed inputs mutated, spliced and truncated. Meant for
 * parsers that export a fuzz hook (e.g. RTMPT's `fuzzRtmptRequest`), so
 * registering one is a single entry in targets/index.ts.
 */
export interface BytesTargetOptions {
  name: string;
  summary: string;
  codes: readonly EdgeErrorCode[];
  /** The function under test; its return value is ignored, and may be a promise. */
  run: (bytes: Buffer) => unknown;
  /** Valid inputs to mutate (the more shapes the better). */
  seeds: readonly Buffer[];
  /** Longest random input. @default 2048 */
  maxRandomLength?: number;
}

export function bytesTarget(options: BytesTargetOptions): Target {
  const maxRandom = options.maxRandomLength ?? 2048;
  return defineTarget<{ data: Buffer; provenance: string }>({
    name: options.name,
    summary: options.summary,
    codes: options.codes,
    generate(rng: Prng) {
      if (options.seeds.length === 0 || rng.bool(0.1)) {
        return { data: randomBytes(rng, rng.int(0, maxRandom)), provenance: "random" };
      }
      const seed = rng.pick(options.seeds);
      const index = options.seeds.indexOf(seed);
      if (rng.bool(0.15)) return { data: seed, provenance: `seed ${index}` };
      let data = mutate(rng, seed, 6);
      if (rng.bool(0.1)) {
        // Splice the head of one seed onto the tail of another.
        const other = rng.pick(options.seeds);
        data = Buffer.concat([
          data.subarray(0, rng.int(0, data.length)),
          other.subarray(rng.int(0, other.length)),
        ]);
      }
      return { data, provenance: `seed ${index} mutated` };
    },
    async execute(input) {
      await options.run(input.data);
    },
    bytes: (input) => input.data,
    withBytes: (input, data) => ({ ...input, data }),
    describe: (input) => input.provenance,
  });
}
