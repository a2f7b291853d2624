import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { Prng } from "../../lib/testing/prng.js";
import { Blowfish, blowfishInitialState } from "../src/rtmp/rtmpe/blowfish.js";
import { createRc4, NATIVE_RC4_AVAILABLE, Rc4 } from "../src/rtmp/rtmpe/rc4.js";
import { encryptSignature } from "../src/rtmp/rtmpe/signature.js";
import { RTMPE8_XTEA_KEYS, RTMPE9_BLOWFISH_KEYS_HEX } from "../src/rtmp/rtmpe/signature-keys.js";
import { createRtmpeCiphers, RTMPE_KEYSTREAM_SKIP, rtmpeRc4Key } from "../src/rtmp/rtmpe/stream-cipher.js";
import { xteaEncrypt } from "../src/rtmp/rtmpe/xtea.js";
import { signatureCipher } from "./helpers/rtmpe-client.js";

/** RFC 6229 §2: keystream bytes at the given offsets (16 bytes each) for two of its keys. */
const RFC6229: ReadonlyArray<{ key: string; blocks: ReadonlyArray<[number, string]> }> = [
  {
    key: "0102030405",
    blocks: [
      [0x0000, "b2396305f03dc027ccc3524a0a1118a8"],
      [0x0010, "6982944f18fc82d589c403a47a0d0919"],
      [0x00f0, "28cb1132c96ce286421dcaadb8b69eae"],
      [0x0100, "1cfcf62b03eddb641d77dfcf7f8d8c93"],
      [0x05f0, "3294f744d8f9790507e70f62e5bbceea"],
      [0x0600, "d8729db41882259bee4f825325f5a130"],
      [0x0ff0, "068326a2118416d21f9d04b2cd1ca050"],
      [0x1000, "ff25b58995996707e51fbdf08b34d875"],
    ],
  },
  {
    key: "0102030405060708090a0b0c0d0e0f10",
    blocks: [
      [0x0000, "9ac7cc9a609d1ef7b2932899cde41b97"],
      [0x0010, "5248c4959014126a6e8a84f11d1a9e1c"],
      [0x00f0, "065902e4b620f6cc36c8589f66432f2b"],
      [0x0100, "d39d566bc6bce3010768151549f3873f"],
      [0x05f0, "b40110c4190b5622a96116b0017ed297"],
      [0x0600, "ffa0b514647ec04f6306b892ae661181"],
      [0x0ff0, "ff38265c1642c1abe8d3c2fe5e572bf8"],
      [0x1000, "a36a4c301ae8ac13610ccbc12256cacc"],
    ],
  },
];

function checkRfc6229(keystream: (key: Buffer, length: number) => Buffer): void {
  for (const { key, blocks } of RFC6229) {
    const stream = keystream(Buffer.from(key, "hex"), 0x1010);
    for (const [offset, hex] of blocks) {
      assert.equal(stream.subarray(offset, offset + 16).toString("hex"), hex, `key ${key} offset ${offset}`);
    }
  }
}

/** Runs an ES module script in a child Node with OpenSSL's legacy provider (RC4, Blowfish) loaded. */
function runWithLegacyProvider(script: string): { ok: boolean; stdout: string; stderr: string } {
  const result = spawnSync(
    process.execPath,
    ["--openssl-legacy-provider", "--input-type=module", "-e", script],
    {
      encoding: "utf8",
      timeout: 30_000,
    },
  );
  return { ok: result.status === 0, stdout: result.stdout, stderr: result.stderr };
}

const legacyProbe = runWithLegacyProvider(
  'import { getCiphers } from "node:crypto"; console.log(JSON.stringify(getCiphers().includes("rc4") && getCiphers().includes("bf-ecb")));',
);
/**
 * Node 20 ships OpenSSL 3 with the legacy provider, so its absence is a broken
 * machine the comparisons below must report, not a reason to skip them.
 */
function assertLegacyProvider(): void {
  assert.ok(
    legacyProbe.ok && legacyProbe.stdout.trim() === "true",
    `node --openssl-legacy-provider must offer rc4 and bf-ecb (the OpenSSL comparisons need it): ${legacyProbe.stderr.trim() || legacyProbe.stdout.trim()}`,
  );
}

/** How the child feeds its keystreams: uneven pieces, 4136 bytes in all (RFC 6229 needs 0x1010). */
const PIECES = [1, 15, 16, 1000, 3104];
const rc4ModuleUrl = new URL("../src/rtmp/rtmpe/rc4.js", import.meta.url).href;

describe("RC4", () => {
  it("matches the RFC 6229 keystreams (pure TypeScript)", () => {
    checkRfc6229((key, length) => new Rc4(key).update(Buffer.alloc(length)));
  });

  it("gives the same keystream however the input is split, and works in place", () => {
    const prng = new Prng(61);
    const key = prng.bytes(16);
    const data = prng.bytes(5000);
    const whole = new Rc4(key).update(data);
    const pieces = new Rc4(key);
    const parts: Buffer[] = [];
    for (let at = 0; at < data.length; ) {
      const take = prng.int(0, 300);
      parts.push(pieces.update(data.subarray(at, at + take)));
      at += take;
    }
    assert.deepStrictEqual(Buffer.concat(parts), whole);
    const inPlace = Buffer.from(data);
    new Rc4(key).process(inPlace, inPlace);
    assert.deepStrictEqual(inPlace, whole);
    assert.deepStrictEqual(new Rc4(key).update(whole), data, "RC4 is its own inverse");
    assert.deepStrictEqual(data, Buffer.from(data), "update leaves its input alone");
  });

  it("rejects keys of 0 or more than 256 bytes", () => {
    assert.throws(() => new Rc4(Buffer.alloc(0)), RangeError);
    assert.throws(() => new Rc4(Buffer.alloc(257)), RangeError);
  });

  it("uses OpenSSL's RC4 only when this process has it", () => {
    const pure = createRc4(Buffer.from("0102030405", "hex"), "pure");
    assert.ok(pure instanceof Rc4);
    if (!NATIVE_RC4_AVAILABLE) {
      assert.throws(() => createRc4(Buffer.alloc(16), "native"), /legacy-provider/);
      assert.ok(createRc4(Buffer.alloc(16)) instanceof Rc4, "the default falls back to the pure RC4");
    } else {
      assert.ok(!(createRc4(Buffer.alloc(16)) instanceof Rc4), "the default is OpenSSL's RC4 when present");
    }
  });

  it("OpenSSL's RC4 (node --openssl-legacy-provider) matches RFC 6229 and the pure RC4", () => {
    assertLegacyProvider();
    const prng = new Prng(62);
    const randomKeys = [prng.bytes(16), prng.bytes(16), prng.bytes(7)].map((key) => key.toString("hex"));
    const script = `
        import { createRc4, NATIVE_RC4_AVAILABLE, DEFAULT_RC4_IMPLEMENTATION } from ${JSON.stringify(rc4ModuleUrl)};
        const keys = ${JSON.stringify([...RFC6229.map((v) => v.key), ...randomKeys])};
        const streams = keys.map((hex) => {
          const cipher = createRc4(Buffer.from(hex, "hex"), "native");
          // Uneven pieces, to check that OpenSSL continues the keystream across calls too.
          const parts = [];
          for (const size of ${JSON.stringify(PIECES)}) parts.push(cipher.update(Buffer.alloc(size)));
          return Buffer.concat(parts).toString("hex");
        });
        console.log(JSON.stringify({ NATIVE_RC4_AVAILABLE, DEFAULT_RC4_IMPLEMENTATION, streams }));
      `;
    const child = runWithLegacyProvider(script);
    assert.ok(child.ok, child.stderr);
    const result = JSON.parse(child.stdout) as {
      NATIVE_RC4_AVAILABLE: boolean;
      DEFAULT_RC4_IMPLEMENTATION: string;
      streams: string[];
    };
    assert.equal(result.NATIVE_RC4_AVAILABLE, true);
    assert.equal(result.DEFAULT_RC4_IMPLEMENTATION, "native");
    const keys = [...RFC6229.map((v) => v.key), ...randomKeys];
    const native = new Map(keys.map((key, i) => [key, Buffer.from(result.streams[i]!, "hex")]));
    checkRfc6229((key) => native.get(key.toString("hex"))!);
    for (const key of keys) {
      const pure = new Rc4(Buffer.from(key, "hex")).update(Buffer.alloc(PIECES.reduce((a, b) => a + b)));
      assert.deepStrictEqual(native.get(key), pure, `key ${key}`);
    }
  });
});

describe("RTMPE stream ciphers", () => {
  it("derive mirrored keys and skip 1536 keystream bytes", () => {
    const prng = new Prng(63);
    const secret = prng.bytes(128);
    const serverKey = prng.bytes(128);
    const clientKey = prng.bytes(128);
    const server = createRtmpeCiphers(secret, serverKey, clientKey, "pure");
    const client = createRtmpeCiphers(secret, clientKey, serverKey, "pure");
    const message = prng.bytes(3000);
    assert.deepStrictEqual(server.decrypt.update(client.encrypt.update(message)), message);
    assert.deepStrictEqual(client.decrypt.update(server.encrypt.update(message)), message);

    // Server out-key = HMAC(secret, client public key)[0..16], after 1536 skipped bytes.
    const outKey = rtmpeRc4Key(secret, clientKey);
    assert.equal(outKey.length, 16);
    const expected = new Rc4(outKey)
      .update(Buffer.alloc(RTMPE_KEYSTREAM_SKIP + 32))
      .subarray(RTMPE_KEYSTREAM_SKIP);
    const fresh = createRtmpeCiphers(secret, serverKey, clientKey, "pure");
    assert.deepStrictEqual(fresh.encrypt.update(Buffer.alloc(32)), expected);
  });
});

describe("XTEA", () => {
  // Published vectors (Botan / Crypto++ xtea.txt; TeaCrypt), big-endian words.
  const vectors: ReadonlyArray<[string, string, string]> = [
    ["000102030405060708090a0b0c0d0e0f", "4142434445464748", "497df3d072612cb5"],
    ["000102030405060708090a0b0c0d0e0f", "4141414141414141", "e78f2d13744341d8"],
    ["000102030405060708090a0b0c0d0e0f", "5a5b6e278948d77f", "4141414141414141"],
    ["00000000000000000000000000000000", "4142434445464748", "a0390589f8b8efa5"],
    ["00000000000000000000000000000000", "4141414141414141", "ed23375a821a8c2d"],
    ["00000000000000000000000000000000", "70e1225d6e4e7655", "4141414141414141"],
    ["00000000000000000000000000000000", "0000000000000000", "dee9d4d8f7131ed9"],
    ["00000000000000000000000000000000", "0102030405060708", "065c1b8975c6a816"],
    ["0123456712345678234567893456789a", "0000000000000000", "1ff9a0261ac64264"],
    ["0123456712345678234567893456789a", "0102030405060708", "8c67155b2ef91ead"],
  ];

  it("matches the published vectors", () => {
    for (const [keyHex, plain, cipher] of vectors) {
      const key = Buffer.from(keyHex, "hex");
      const words = [0, 4, 8, 12].map((at) => key.readUInt32BE(at));
      const block = Buffer.from(plain, "hex");
      const v = new Uint32Array([block.readUInt32BE(0), block.readUInt32BE(4)]);
      xteaEncrypt(v, words);
      const out = Buffer.alloc(8);
      out.writeUInt32BE(v[0]!, 0);
      out.writeUInt32BE(v[1]!, 4);
      assert.equal(out.toString("hex"), cipher, `key ${keyHex} plain ${plain}`);
    }
  });
});

/** Hex digits of pi's fractional part, as 32-bit words, by Machin's formula in BigInt. */
function piWords(count: number): Buffer {
  const bits = BigInt(count * 32 + 64);
  const one = 1n << bits;
  const arctanInverse = (x: bigint): bigint => {
    let term = one / x;
    let sum = term;
    for (let k = 1n; term !== 0n; k += 1n) {
      term /= x * x;
      sum += (k % 2n === 0n ? 1n : -1n) * (term / (2n * k + 1n));
    }
    return sum;
  };
  const pi = 16n * arctanInverse(5n) - 4n * arctanInverse(239n);
  const fraction = (pi - (3n << bits)) >> 64n;
  return Buffer.from(fraction.toString(16).padStart(count * 8, "0"), "hex");
}

function blowfishBe(key: Buffer, plain: Buffer): Buffer {
  const v = new Uint32Array([plain.readUInt32BE(0), plain.readUInt32BE(4)]);
  new Blowfish(key).encrypt(v);
  const out = Buffer.alloc(8);
  out.writeUInt32BE(v[0]!, 0);
  out.writeUInt32BE(v[1]!, 4);
  return out;
}

describe("Blowfish", () => {
  it("starts from the hex digits of pi", () => {
    const state = blowfishInitialState();
    const expected = piWords(1042);
    assert.equal(state.length, 1042);
    for (let i = 0; i < 1042; i += 1) assert.equal(state[i], expected.readUInt32BE(i * 4), `word ${i}`);
    assert.equal(state[0], 0x243f6a88);
    assert.equal(state[18], 0xd1310ba6, "S-box 0 begins right after P[17]");
  });

  it("matches Eric Young's published vectors", () => {
    const vectors: ReadonlyArray<[string, string, string]> = [
      ["0000000000000000", "0000000000000000", "4ef997456198dd78"],
      ["ffffffffffffffff", "ffffffffffffffff", "51866fd5b85ecb8a"],
      ["3000000000000000", "1000000000000001", "7d856f9a613063f2"],
      ["1111111111111111", "1111111111111111", "2466dd878b963c9d"],
      ["0123456789abcdef", "1111111111111111", "61f9c3802281b096"],
      // The variable-key-length set: the full 24-byte key.
      ["f0e1d2c3b4a5968778695a4b3c2d1e0f0011223344556677", "fedcba9876543210", "05044b62fa52d080"],
    ];
    for (const [key, plain, cipher] of vectors) {
      assert.equal(
        blowfishBe(Buffer.from(key, "hex"), Buffer.from(plain, "hex")).toString("hex"),
        cipher,
        `key ${key}`,
      );
    }
  });

  it("rejects keys of 0 or more than 56 bytes", () => {
    assert.throws(() => new Blowfish(Buffer.alloc(0)), RangeError);
    assert.throws(() => new Blowfish(Buffer.alloc(57)), RangeError);
  });

  it("matches OpenSSL's bf-ecb with every RTMPE type 9 key", () => {
    assertLegacyProvider();
    const prng = new Prng(64);
    const blocks = RTMPE9_BLOWFISH_KEYS_HEX.map(() => prng.bytes(8).toString("hex"));
    const script = `
        import { createCipheriv } from "node:crypto";
        const keys = ${JSON.stringify(RTMPE9_BLOWFISH_KEYS_HEX)};
        const blocks = ${JSON.stringify(blocks)};
        console.log(JSON.stringify(keys.map((key, i) => {
          const c = createCipheriv("bf-ecb", Buffer.from(key, "hex"), null);
          c.setAutoPadding(false);
          return c.update(Buffer.from(blocks[i], "hex")).toString("hex");
        })));
      `;
    const child = runWithLegacyProvider(script);
    assert.ok(child.ok, child.stderr);
    const openssl = JSON.parse(child.stdout) as string[];
    RTMPE9_BLOWFISH_KEYS_HEX.forEach((key, i) => {
      const ours = blowfishBe(Buffer.from(key, "hex"), Buffer.from(blocks[i]!, "hex"));
      assert.equal(ours.toString("hex"), openssl[i], `RTMPE9 key ${i}`);
    });
  });
});

describe("RTMPE type 8/9 signature encryption", () => {
  it("has sixteen keys of the right sizes", () => {
    assert.equal(RTMPE8_XTEA_KEYS.length, 16);
    for (const key of RTMPE8_XTEA_KEYS) {
      assert.equal(key.length, 4);
      for (const word of key) assert.ok(Number.isInteger(word) && word >= 0 && word <= 0xffffffff);
    }
    assert.equal(RTMPE9_BLOWFISH_KEYS_HEX.length, 16);
    for (const key of RTMPE9_BLOWFISH_KEYS_HEX) assert.match(key, /^[0-9a-f]{48}$/);
  });

  it("encrypts each 8-byte block, little-endian, with key number keyBytes[8i] % 15", () => {
    const prng = new Prng(65);
    for (const type of [8, 9] as const) {
      for (let round = 0; round < 50; round += 1) {
        const signature = prng.bytes(32);
        const keyBytes = prng.bytes(32);
        const ours = Buffer.from(signature);
        encryptSignature(type, ours, keyBytes);
        assert.deepStrictEqual(
          ours,
          signatureCipher(type, signature, keyBytes),
          `type ${type} round ${round}`,
        );
        assert.notDeepStrictEqual(ours, signature);
      }
    }
  });

  it("type 9 equals OpenSSL bf-ecb on byte-swapped words", () => {
    assertLegacyProvider();
    const prng = new Prng(66);
    const signature = prng.bytes(32);
    const keyBytes = Buffer.alloc(32);
    keyBytes[8] = 7;
    keyBytes[16] = 29;
    keyBytes[24] = 44;
    const keyIds = [0, 7, 29 % 15, 44 % 15];
    const script = `
      import { createCipheriv } from "node:crypto";
      const keys = ${JSON.stringify(keyIds.map((id) => RTMPE9_BLOWFISH_KEYS_HEX[id]))};
      const sig = Buffer.from(${JSON.stringify(signature.toString("hex"))}, "hex");
      const out = keys.map((key, i) => {
        const block = Buffer.from(sig.subarray(i * 8, i * 8 + 8)).swap32();
        const c = createCipheriv("bf-ecb", Buffer.from(key, "hex"), null);
        c.setAutoPadding(false);
        return c.update(block).swap32().toString("hex");
      });
      console.log(JSON.stringify(out.join("")));
    `;
    const child = runWithLegacyProvider(script);
    assert.ok(child.ok, child.stderr);
    const ours = Buffer.from(signature);
    encryptSignature(9, ours, keyBytes);
    assert.equal(ours.toString("hex"), JSON.parse(child.stdout) as string);
  });
});
