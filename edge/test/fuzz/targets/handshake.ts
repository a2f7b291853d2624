import { createHmac } from "node:crypto";
import { EdgeError, EdgeErrorCode } from "../../../src/errors.js";
import { ServerHandshake } from "../../../src/rtmp/handshake.js";
import { check, defineTarget, type Prng, type Target } from "../fuzz-harness.js";
import { describePlan, mutate, piecesOf, randomBytes, splitPlan } from "../mutators.js";

/**
 * ServerHandshake fed C0 C1 C2 (+ the start of the chunk stream), valid or
 * mutated, in random pieces. C0 is mostly 3, often 6/8/9 (RTMPE; C1 then
 * also carries a Diffie-Hellman public key, valid or at the edges of the
 * range), sometimes random.
 *
 * Properties once a handshake with C0 3/6/8/9 has not thrown: S0S1S2 is
 * exactly 3073 bytes once C0C1 is in and S0 echoes C0, `done` comes exactly
 * with byte 3073, what follows is handed back untouched as `rest`, S2
 * echoes a version-zero C1, a valid Flash Player digest yields a digest
 * handshake (C0 3) or an RTMPE one with ciphers on the done step (6/8/9).
 * After a throw, every later push throws the same error.
 */

const PACKET = 1536;
const C0C1 = 1 + PACKET;
const FULL = 1 + 2 * PACKET;

/** The client key (first 30 bytes of "Genuine Adobe Flash Player 001" + tail), re-derived here. */
const FP_KEY_30 = Buffer.from("Genuine Adobe Flash Player 001", "ascii");

/** Server randomness is irrelevant to the oracle; a fixed pool keeps cases deterministic and cheap. */
const RANDOM_POOL = Buffer.alloc(4 * PACKET, 0x5a);
const fixedRandom = (n: number): Buffer =>
  n <= RANDOM_POOL.length ? RANDOM_POOL.subarray(0, n) : Buffer.alloc(n, 0x5a);

type C1Kind = "plain" | "digest" | "versioned" | "random";

interface HandshakeInput {
  data: Buffer;
  plan: number[];
  c1Kind: C1Kind;
  /** True when C1 was mutated after building (a digest may no longer verify). */
  mutated: boolean;
}

function digestOffset(packet: Buffer, scheme: 1 | 2): number {
  const base = scheme === 1 ? 8 : 772;
  return ((packet[base]! + packet[base + 1]! + packet[base + 2]! + packet[base + 3]!) % 728) + base + 4;
}

/** Where RTMPE puts the 128-byte DH public key for a digest scheme (offsets read from other bytes than the digest's). */
function dhKeyOffset(packet: Buffer, scheme: 1 | 2): number {
  const base = scheme === 1 ? 1532 : 768;
  return (
    ((packet[base]! + packet[base + 1]! + packet[base + 2]! + packet[base + 3]!) % 632) +
    (scheme === 1 ? 772 : 8)
  );
}

/** A client DH public key: random (valid), or one of the values a server must refuse or only just accepts. */
function dhPublicKey(rng: Prng): Buffer {
  const key = rng.bytes(128);
  switch (rng.int(0, 9)) {
    case 0:
      return Buffer.alloc(128);
    case 1:
      key.fill(0, 0, 127);
      key[127] = rng.int(1, 3);
      return key;
    case 2:
      return Buffer.alloc(128, 0xff);
    case 3:
      // The Oakley group 2 prime starts with 64 one bits: this lands near p, on either side.
      key.fill(0xff, 0, 8);
      return key;
    default:
      return key;
  }
}

function buildC1(rng: Prng, kind: C1Kind): Buffer {
  const c1 = rng.bytes(PACKET);
  if (kind === "plain") {
    c1.writeUInt32BE(0, 4);
  } else if (kind === "digest") {
    Buffer.from(
      rng.pick([
        [9, 0, 124, 2],
        [10, 0, 32, 18],
        [128, 0, 7, 2],
      ]),
    ).copy(c1, 4);
    const scheme = rng.bool() ? 1 : 2;
    // An RTMPE client's public key (plain RTMP ignores it); the digest covers it.
    dhPublicKey(rng).copy(c1, dhKeyOffset(c1, scheme));
    const at = digestOffset(c1, scheme);
    createHmac("sha256", FP_KEY_30)
      .update(c1.subarray(0, at))
      .update(c1.subarray(at + 32))
      .digest()
      .copy(c1, at);
  } else if (kind === "versioned" && c1.readUInt32BE(4) === 0) {
    c1[4] = 1;
  }
  return c1;
}

function generate(rng: Prng): HandshakeInput {
  if (rng.bool(0.05)) {
    const data = randomBytes(rng, rng.int(0, 3200));
    return { data, plan: splitPlan(rng, data.length, [1, C0C1, FULL]), c1Kind: "random", mutated: true };
  }
  const c0 = rng.pick([3, 3, 3, 3, 3, 6, 8, 9, rng.int(0, 255)]);
  const c1Kind = rng.pick<C1Kind>(["plain", "digest", "digest", "versioned"]);
  let c1 = buildC1(rng, c1Kind);
  const mutated = rng.bool(0.3);
  if (mutated) {
    // Mostly where the digest scheme looks: the offset bytes and the digest area.
    const [from, to] = rng.pick([
      [4, 12],
      [8, 800],
      [772, 1536],
      [0, 1536],
    ] as const);
    c1 = mutate(rng, c1, 3, from, to);
    c1 = c1.length >= PACKET ? c1.subarray(0, PACKET) : Buffer.concat([c1, Buffer.alloc(PACKET - c1.length)]);
  }
  const c2 = rng.bool(0.5) ? rng.bytes(PACKET) : Buffer.alloc(PACKET);
  const tail = rng.bool(0.5) ? randomBytes(rng, rng.int(1, 300)) : Buffer.alloc(0);
  let data = Buffer.concat([Buffer.from([c0]), c1, c2, tail]);
  if (rng.bool(0.25))
    data = data.subarray(0, rng.pick([rng.int(0, data.length), rng.int(C0C1 - 2, FULL + 2)]));
  return { data, plan: splitPlan(rng, data.length, [1, C0C1, FULL]), c1Kind, mutated };
}

function execute(input: HandshakeInput): void {
  const { data } = input;
  const handshake = new ServerHandshake({ randomBytes: fixedRandom, nowMs: () => 1_700_000_000_123 });
  const outputs: Buffer[] = [];
  const rests: Buffer[] = [];
  let done = false;
  let ciphersOnDone = false;
  try {
    for (const piece of piecesOf(data, input.plan)) {
      const step = handshake.push(piece);
      if (step.output) outputs.push(step.output);
      if (step.rest) rests.push(step.rest);
      check(!(done && !step.done), () => "done went back to false");
      if (step.done && !done && "encryption" in step && step.encryption) {
        ciphersOnDone = true;
        // The bytes after C2 are ciphertext: decrypting them must just work.
        const decrypted = step.encryption.decrypt.update(step.rest ?? Buffer.alloc(0));
        check(decrypted.length === (step.rest?.length ?? 0), () => "decrypt changed the length");
      }
      done = step.done;
    }
  } catch (error) {
    if (error instanceof EdgeError) {
      let again: unknown = null;
      try {
        handshake.push(Buffer.from([3]));
      } catch (later) {
        again = later;
      }
      check(again === error, () => `after ${error.code}, push() did not rethrow the same error`);
    }
    throw error;
  }

  const c0 = data[0];
  if (c0 !== 3 && c0 !== 6 && c0 !== 8 && c0 !== 9) return;
  // The exact byte accounting of the handshake.
  const output = Buffer.concat(outputs);
  const expectedOut = data.length >= C0C1 ? FULL : 0;
  check(output.length === expectedOut, () => `wrote ${output.length} bytes, expected ${expectedOut}`);
  check(done === data.length >= FULL, () => `done=${done} after ${data.length} bytes`);
  check(handshake.done === done, () => "handshake.done disagrees with the last step");
  if (done) {
    const rest = Buffer.concat(rests);
    check(
      rest.equals(data.subarray(FULL)),
      () => `rest is ${rest.length} bytes, expected ${data.length - FULL}`,
    );
  } else {
    check(rests.length === 0, () => "rest handed back before done");
  }
  if (data.length < C0C1) {
    check(handshake.kind === null, () => `kind ${handshake.kind} before C1 arrived`);
    return;
  }
  check(output[0] === c0, () => `S0 is ${output[0]} for C0 ${c0}`);
  const c1 = data.subarray(1, C0C1);
  if (c0 !== 3) {
    // RTMPE has no fallback: having not thrown, it must have keyed the ciphers.
    check(handshake.kind === "rtmpe", () => `C0 ${c0} gave a ${handshake.kind} handshake`);
    check(!done || ciphersOnDone, () => "RTMPE handshake finished without ciphers");
    return;
  }
  check(!ciphersOnDone, () => "plain RTMP handshake came with ciphers");
  if (c1.readUInt32BE(4) === 0) {
    check(handshake.kind === "plain", () => `zero-version C1 gave a ${handshake.kind} handshake`);
    check(output.subarray(C0C1).equals(c1), () => "S2 does not echo a zero-version C1");
  }
  if (input.c1Kind === "digest" && !input.mutated) {
    check(
      handshake.kind === "digest",
      () => `a valid Flash Player digest gave a ${handshake.kind} handshake`,
    );
  }
}

export const handshakeTarget: Target = defineTarget<HandshakeInput>({
  name: "handshake",
  summary: "ServerHandshake: C0 3/6/8/9/random + plain/digest/mutated C1 + C2 + tail, random splits",
  codes: [EdgeErrorCode.HandshakeVersion, EdgeErrorCode.HandshakeInvalid],
  generate,
  execute,
  bytes: (input) => input.data,
  withBytes: (input, data) => ({ ...input, data, mutated: true }),
  describe: (input) => `C1 ${input.c1Kind}${input.mutated ? " (mutated)" : ""}, ${describePlan(input.plan)}`,
});
