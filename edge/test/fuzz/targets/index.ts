import { EdgeErrorCode } from "../../../src/errors.js";
import { fuzzRtmptRequest } from "../../../src/transport/rtmpt/request-path.js";
import type { Target } from "../fuzz-harness.js";
import { amfTarget } from "./amf.js";
import { bytesTarget } from "./bytes.js";
import { chunkTarget } from "./chunk.js";
import { demuxTarget } from "./demux.js";
import { handshakeTarget } from "./handshake.js";
import { selftestTarget } from "./selftest.js";

/**
 * Every fuzz target, in the order campaigns run them. Names are what
 * `--target` takes.
 */
export const TARGETS: readonly Target[] = [
  handshakeTarget,
  chunkTarget,
  amfTarget,
  demuxTarget,
  // RTMPT request lines: the first line of the input is the method, the rest the URL.
  bytesTarget({
    name: "rtmpt",
    summary: "RTMPT request line parsing (fuzzRtmptRequest): valid paths mutated, random bytes",
    codes: [EdgeErrorCode.RtmptRequestInvalid],
    run: fuzzRtmptRequest,
    seeds: [
      "POST\n/open/1",
      "POST\n/fcs/ident2",
      "GET\n/fcs/ident2",
      "POST\n/crossdomain.xml",
      "POST\n/send/0123456789abcdef0123456789abcdef/0",
      "POST\n/idle/0123456789abcdef0123456789abcdef/2147483647",
      "POST\n/close/0123456789abcdef0123456789abcdef/7",
    ].map((s) => Buffer.from(s, "latin1")),
  }),
];

/** Targets that only run when named (the harness's own check). */
export const HIDDEN_TARGETS: readonly Target[] = [selftestTarget];

export function findTarget(name: string): Target | undefined {
  return [...TARGETS, ...HIDDEN_TARGETS].find((target) => target.name === name);
}
