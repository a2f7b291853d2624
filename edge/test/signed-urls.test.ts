import assert from "node:assert/strict";
import { createHash, generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import { describe, test } from "node:test";
import { getSignedUrl } from "@aws-sdk/cloudfront-signer";
import { parseStreamName } from "../src/routing/stream-name.js";
import { ipv4InNetwork, parseIpv4Cidr } from "../src/signed-urls/ipv4-cidr.js";
import { PlayAuthorizer } from "../src/signed-urls/play-authorizer.js";
import { cannedPolicyText, parseCustomPolicy } from "../src/signed-urls/policy.js";
import { parseSignedQuery } from "../src/signed-urls/signed-query.js";
import {
  type PlayToVerify,
  resourceCandidates,
  SignedUrlVerifier,
  type SignerKey,
} from "../src/signed-urls/signed-url-verifier.js";
import { SignerKeyRegistry } from "../src/signed-urls/signer-key-registry.js";
import { decodeUrlSafeBase64, encodeUrlSafeBase64 } from "../src/signed-urls/url-safe-base64.js";
import { matchesWildcard } from "../src/signed-urls/wildcard.js";

const selfAccount = "123456789012";
const otherAccount = "210987654321";

function makeKey(id: string, account: string): { signer: SignerKey; privatePem: string } {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return {
    signer: signerKey(id, account, publicKey),
    privatePem: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
  };
}

function signerKey(id: string, account: string, publicKey: KeyObject): SignerKey {
  const der = publicKey.export({ type: "spki", format: "der" });
  return { id, account, publicKey, fingerprint: createHash("sha256").update(der).digest("hex") };
}

const own = makeKey("K2JCJMDEHXQW5F", selfAccount);
const foreign = makeKey("KFOREIGNKEY001", otherAccount);
const keys = new Map([own.signer, foreign.signer].map((k) => [k.id, k]));
const trusted = new Set([selfAccount]);

/** 2026-12-03T00:00:00Z, the tests' "now". */
const nowMs = Date.UTC(2026, 11, 3);
const nowSeconds = nowMs / 1000;
const iso = (seconds: number) => new Date(seconds * 1000).toISOString();

/** What the official signer makes for `rtmp://host/<name>`: `<name>?<query>`. */
function officialSigned(name: string, options: Partial<Parameters<typeof getSignedUrl>[0]> = {}): string {
  return getSignedUrl({
    url: `rtmp://s5c39gqb8ow64r.cloudfront.net/${name}`,
    keyPairId: own.signer.id,
    privateKey: own.privatePem,
    dateLessThan: iso(nowSeconds + 3600),
    ...options,
  } as Parameters<typeof getSignedUrl>[0]);
}

/** What a viewer's play name looks like to the verifier. */
function play(signedName: string, overrides: Partial<PlayToVerify> = {}): PlayToVerify {
  const at = signedName.indexOf("?");
  const name = at === -1 ? signedName : signedName.slice(0, at);
  const query = at === -1 ? "" : signedName.slice(at + 1);
  const parsed = parseSignedQuery(query);
  const ownQuery = parsed.kind === "malformed" ? "" : parsed.ownQuery;
  return {
    query,
    resources: resourceCandidates(name, ownQuery),
    clientAddress: "203.0.113.7",
    trustedAccounts: trusted,
    nowMs,
    ...overrides,
  };
}

function verifier(): SignedUrlVerifier {
  return new SignedUrlVerifier({ keys: { get: (id) => keys.get(id) } });
}

describe("signed URLs: pure parts", () => {
  test("wildcards: * is any run, ? exactly one character, the rest literal", () => {
    const table: [string, string, boolean][] = [
      ["videos/*", "videos/a", true],
      ["videos/*", "videos/", true],
      ["videos/*", "audio/a", false],
      ["*", "", true],
      ["", "", true],
      ["", "a", false],
      ["v?deos/clip", "videos/clip", true],
      ["v?deos/clip", "vdeos/clip", false],
      ["*/clip*", "a/b/clip.flv", true],
      ["a*b*c", "aXbYc", true],
      ["a*b*c", "aXbY", false],
      ["videos/clip", "videos/Clip", false],
      ["**?", "x", true],
      ["*a*a*a*a*a*a*a*b", "a".repeat(2000), false],
    ];
    for (const [pattern, text, expected] of table) {
      assert.equal(matchesWildcard(pattern, text), expected, `${pattern} vs ${text}`);
    }
  });

  test("IPv4 CIDR: prefix required, IPv4 only, ::ffff: addresses are IPv4", () => {
    const net = parseIpv4Cidr("192.0.2.0/24")!;
    assert.ok(ipv4InNetwork("192.0.2.200", net));
    assert.ok(ipv4InNetwork("::ffff:192.0.2.1", net));
    assert.ok(!ipv4InNetwork("192.0.3.1", net));
    assert.ok(!ipv4InNetwork("2001:db8::1", net));
    assert.ok(ipv4InNetwork("8.8.8.8", parseIpv4Cidr("0.0.0.0/0")!));
    assert.ok(ipv4InNetwork("198.51.100.9", parseIpv4Cidr("198.51.100.9/32")!));
    assert.ok(!ipv4InNetwork("198.51.100.10", parseIpv4Cidr("198.51.100.9/32")!));
    for (const bad of [
      "192.0.2.1",
      "192.0.2.1/33",
      "192.0.2/24",
      "::1/128",
      "192.0.2.1/-1",
      "192.0.2.1/ 8",
    ]) {
      assert.equal(parseIpv4Cidr(bad), null, bad);
    }
  });

  test("URL-safe base64 reads both alphabets and refuses other characters", () => {
    const bytes = Buffer.from([0xfb, 0xff, 0xbf, 0x00, 0x01]);
    const safe = encodeUrlSafeBase64(bytes);
    assert.match(safe, /^[A-Za-z0-9\-_~]+$/);
    assert.deepEqual(decodeUrlSafeBase64(safe), bytes);
    assert.deepEqual(decodeUrlSafeBase64(bytes.toString("base64")), bytes);
    assert.equal(decodeUrlSafeBase64("ab$d"), null);
    assert.equal(decodeUrlSafeBase64("a=bc"), null);
    assert.equal(decodeUrlSafeBase64("abcde"), null);
  });

  test("the signed query: own parameters kept in order, reserved ones read, malformed ones named", () => {
    const canned = parseSignedQuery("user=7&lang=en&Expires=1800000000&Signature=AAAA&Key-Pair-Id=K1");
    assert.equal(canned.kind, "canned");
    assert.ok(canned.kind === "canned");
    assert.equal(canned.ownQuery, "user=7&lang=en");
    assert.equal(canned.expiresSeconds, 1_800_000_000);
    assert.equal(canned.hashAlgorithm, "SHA1");
    assert.deepEqual(parseSignedQuery(""), { kind: "unsigned", ownQuery: "" });
    assert.deepEqual(parseSignedQuery("user=7"), { kind: "unsigned", ownQuery: "user=7" });
    const problems: [string, RegExp][] = [
      ["Expires=1&Expires=2&Signature=AAAA&Key-Pair-Id=K1", /twice/],
      ["Expires=1&Signature=AAAA", /Key-Pair-Id/],
      ["Expires=1&Key-Pair-Id=K1", /Signature is missing/],
      ["Signature=AAAA&Key-Pair-Id=K1", /exactly one/],
      ["Expires=1&Policy=AAAA&Signature=AAAA&Key-Pair-Id=K1", /exactly one/],
      ["Expires=99999999999&Signature=AAAA&Key-Pair-Id=K1", /epoch/],
      ["Expires=-1&Signature=AAAA&Key-Pair-Id=K1", /epoch/],
      ["Expires=1&Signature=A$AA&Key-Pair-Id=K1", /base64/],
      ["Expires=1&Signature=AAAA&Key-Pair-Id=K/1", /key id/],
      ["Expires=1&Signature=AAAA&Key-Pair-Id=K1&Hash-Algorithm=MD5", /Hash-Algorithm/],
      [`Policy=${"A".repeat(5000)}&Signature=AAAA&Key-Pair-Id=K1`, /too long/],
      ["Expires=1&Signature=%ZZ&Key-Pair-Id=K1", /no valid value/],
    ];
    for (const [query, problem] of problems) {
      const parsed = parseSignedQuery(query);
      assert.equal(parsed.kind, "malformed", query);
      assert.ok(parsed.kind === "malformed");
      assert.match(parsed.problem, problem, query);
    }
  });

  test("custom policies are read strictly: one statement, known conditions only", () => {
    const good = parseCustomPolicy(
      '{"Statement":[{"Resource":"videos/*","Condition":{"DateLessThan":{"AWS:EpochTime":20},"DateGreaterThan":{"AWS:EpochTime":10},"IpAddress":{"AWS:SourceIp":"10.0.0.0/8"}}}]}',
    );
    assert.ok(good.ok);
    assert.equal(good.policy.resource, "videos/*");
    assert.equal(good.policy.dateLessThanSeconds, 20);
    assert.equal(good.policy.dateGreaterThanSeconds, 10);
    assert.equal(good.policy.sourceIp?.prefixLength, 8);
    const bad = [
      "not json",
      "{}",
      '{"Statement":[]}',
      '{"Statement":[{"Condition":{"DateLessThan":{"AWS:EpochTime":1}}},{"Condition":{"DateLessThan":{"AWS:EpochTime":1}}}]}',
      '{"Statement":[{"Resource":"a","Condition":{}}]}',
      '{"Statement":[{"Resource":"a","Condition":{"DateLessThan":{"AWS:EpochTime":"1"}}}]}',
      '{"Statement":[{"Resource":"a","Condition":{"DateLessThan":{"AWS:EpochTime":1},"Referer":{"x":"y"}}}]}',
      '{"Statement":[{"Resource":"a","Condition":{"DateLessThan":{"AWS:EpochTime":1},"IpAddress":{"AWS:SourceIp":"::1/128"}}}]}',
      '{"Statement":[{"Resource":7,"Condition":{"DateLessThan":{"AWS:EpochTime":1}}}]}',
      '{"Statement":[{"Resource":"a","Effect":"Allow","Condition":{"DateLessThan":{"AWS:EpochTime":1}}}]}',
    ];
    for (const text of bad) assert.equal(parseCustomPolicy(text).ok, false, text);
  });

  test("resource candidates: without mp4:/mp3:, with and without the extension, decoded, with own parameters", () => {
    assert.deepEqual(resourceCandidates("mp4:videos/clip.mp4", ""), ["videos/clip.mp4", "videos/clip"]);
    assert.deepEqual(resourceCandidates("videos/clip", ""), ["videos/clip"]);
    assert.deepEqual(resourceCandidates("my%20clip", ""), ["my%20clip", "my clip"]);
    assert.deepEqual(resourceCandidates("a.b/clip", "u=1"), ["a.b/clip", "a.b/clip?u=1"]);
  });

  test("the canned policy text is exactly what the official signer signs", () => {
    const expires = nowSeconds + 3600;
    const name = officialSigned("videos/sample", { dateLessThan: iso(expires) });
    const query = new URLSearchParams(name.slice(name.indexOf("?") + 1));
    const signature = decodeUrlSafeBase64(query.get("Signature")!)!;
    const manual = sign("sha1", Buffer.from(cannedPolicyText("videos/sample", expires)), own.privatePem);
    assert.deepEqual(signature, manual);
  });
});

describe("signed URLs: the verifier with the official signer's URLs", () => {
  test("canned: plays as videos/sample and as mp4:videos/sample.mp4 signed without extension", () => {
    const v = verifier();
    const canned = officialSigned("videos/sample");
    assert.match(canned, /^videos\/sample\?Expires=\d+&Key-Pair-Id=K2JCJMDEHXQW5F&Signature=/);
    const verdict = v.verify(play(canned));
    assert.deepEqual(verdict, { ok: true, keyPairId: own.signer.id, expiresAtSeconds: nowSeconds + 3600 });
    const mp4 = officialSigned("videos/sample").replace(/^videos\/sample/, "mp4:videos/sample.mp4");
    assert.equal(v.verify(play(mp4)).ok, true);
    // Signed as the official signer makes it for mp4:videos/sample.mp4 itself: the colon percent-encoded.
    const encoded = officialSigned("mp4:videos/sample.mp4");
    assert.match(encoded, /^mp4%3Avideos\/sample\.mp4\?/);
    assert.equal(v.verify(play(encoded)).ok, true);
  });

  test("custom with an IP range: the right address plays, another is refused ip_mismatch", () => {
    const v = verifier();
    const custom = officialSigned("videos/sample", {
      ipAddress: "203.0.113.0/24",
      dateGreaterThan: iso(nowSeconds - 60),
    });
    assert.match(custom, /Policy=/);
    assert.equal(v.verify(play(custom)).ok, true);
    assert.equal(v.verify(play(custom, { clientAddress: "::ffff:203.0.113.99" })).ok, true);
    assert.deepEqual(reason(v.verify(play(custom, { clientAddress: "198.51.100.1" }))), "ip_mismatch");
  });

  test("expired and not yet valid", () => {
    const v = verifier();
    const canned = officialSigned("videos/sample", { dateLessThan: iso(nowSeconds - 1) });
    assert.equal(reason(v.verify(play(canned))), "expired");
    const valid = officialSigned("videos/sample", { dateLessThan: iso(nowSeconds + 10) });
    assert.equal(
      reason(v.verify(play(valid, { nowMs: nowMs + 10_000 }))),
      "expired",
      "expiry is checked at each play",
    );
    const later = officialSigned("videos/sample", { dateGreaterThan: iso(nowSeconds + 600) });
    assert.equal(reason(v.verify(play(later))), "not_yet_valid");
    assert.equal(v.verify(play(later, { nowMs: nowMs + 601_000 })).ok, true);
  });

  test("tampered name, tampered signature, tampered policy", () => {
    const v = verifier();
    const canned = officialSigned("videos/sample");
    assert.equal(reason(v.verify(play(canned.replace("videos/sample", "videos/other")))), "bad_signature");
    const sig = /Signature=([^&]+)/.exec(canned)![1]!;
    const flipped = `${sig[0] === "A" ? "B" : "A"}${sig.slice(1)}`;
    assert.equal(reason(v.verify(play(canned.replace(sig, flipped)))), "bad_signature");
    const custom = officialSigned("videos/sample", { ipAddress: "203.0.113.0/24" });
    assert.equal(
      reason(v.verify(play(custom.replace("videos/sample", "videos/other")))),
      "resource_mismatch",
    );
    const policy = /Policy=([^&]+)/.exec(custom)![1]!;
    const widened = encodeUrlSafeBase64(
      decodeUrlSafeBase64(policy)!.toString("utf8").replace("203.0.113.0/24", "0.0.0.0/0"),
    );
    assert.equal(reason(v.verify(play(custom.replace(policy, widened)))), "bad_signature");
  });

  test("unknown key id, key of an untrusted account, key deleted after signing, unsigned", () => {
    const v = verifier();
    assert.equal(
      reason(v.verify(play(officialSigned("videos/sample", { keyPairId: "KNOSUCHKEY" })))),
      "unknown_key",
    );
    const byForeign = officialSigned("videos/sample", {
      keyPairId: foreign.signer.id,
      privateKey: foreign.privatePem,
    });
    assert.equal(reason(v.verify(play(byForeign))), "untrusted_key");
    assert.equal(v.verify(play(byForeign, { trustedAccounts: new Set([otherAccount]) })).ok, true);
    const known = new Map(keys);
    const deletable = new SignedUrlVerifier({ keys: { get: (id) => known.get(id) } });
    const signed = officialSigned("videos/sample");
    assert.equal(deletable.verify(play(signed)).ok, true);
    known.delete(own.signer.id);
    assert.equal(
      reason(deletable.verify(play(signed))),
      "unknown_key",
      "a cached verdict does not outlive the key",
    );
    assert.equal(reason(v.verify(play("videos/sample"))), "unsigned");
    assert.equal(reason(v.verify(play("videos/sample?user=1"))), "unsigned");
  });

  test("RSA-SHA256 with Hash-Algorithm=SHA256; without the parameter the signature is SHA-1 and fails", () => {
    const v = verifier();
    const sha256 = officialSigned("videos/sample", { algorithm: "SHA256" } as Partial<
      Parameters<typeof getSignedUrl>[0]
    >);
    assert.match(sha256, /Hash-Algorithm=SHA256/);
    assert.equal(v.verify(play(sha256)).ok, true);
    assert.equal(reason(v.verify(play(sha256.replace("&Hash-Algorithm=SHA256", "")))), "bad_signature");
  });

  test("wildcard Resource and the operator's own parameters before the reserved ones", () => {
    const v = verifier();
    const policy = JSON.stringify({
      Statement: [
        { Resource: "videos/*", Condition: { DateLessThan: { "AWS:EpochTime": nowSeconds + 60 } } },
      ],
    });
    const wildcard = getSignedUrl({
      url: "rtmp://s5c39gqb8ow64r.cloudfront.net/videos/sample",
      keyPairId: own.signer.id,
      privateKey: own.privatePem,
      policy,
    });
    assert.equal(v.verify(play(wildcard)).ok, true);
    assert.equal(v.verify(play(wildcard.replace("videos/sample", "videos/other"))).ok, true);
    assert.equal(
      reason(v.verify(play(wildcard.replace("videos/sample", "audio/song")))),
      "resource_mismatch",
    );
    const withOwn = officialSigned("videos/sample?user=7");
    assert.match(withOwn, /^videos\/sample\?user=7&Expires=/);
    assert.equal(v.verify(play(withOwn)).ok, true);
  });

  test("a validly signed policy this edge cannot read is refused as malformed", () => {
    const v = verifier();
    const policy = `{"Statement":[{"Resource":"videos/sample","Condition":{"DateLessThan":{"AWS:EpochTime":${nowSeconds + 60}},"Referer":{"AWS:Referer":"x"}}}]}`;
    const signature = encodeUrlSafeBase64(sign("sha1", Buffer.from(policy), own.privatePem));
    const name = `videos/sample?Policy=${encodeUrlSafeBase64(policy)}&Signature=${signature}&Key-Pair-Id=${own.signer.id}`;
    assert.equal(reason(v.verify(play(name))), "malformed");
  });

  test("RSA verdicts are cached: repeated plays (seeks) verify once; a changed key verifies again", () => {
    const v = verifier();
    const signed = officialSigned("videos/sample");
    for (let i = 0; i < 5; i++) assert.equal(v.verify(play(signed)).ok, true);
    assert.equal(v.verifications, 1);
    const rotated = makeKey(own.signer.id, selfAccount);
    const rotatedKeys = new SignedUrlVerifier({ keys: { get: () => rotated.signer } });
    assert.equal(reason(rotatedKeys.verify(play(signed))), "bad_signature");
    const small = new SignedUrlVerifier({ keys: { get: (id) => keys.get(id) }, cacheEntries: 2 });
    for (let i = 0; i < 4; i++)
      small.verify(play(officialSigned("videos/sample", { dateLessThan: iso(nowSeconds + 100 + i) })));
    const before = small.verifications;
    small.verify(play(officialSigned("videos/sample", { dateLessThan: iso(nowSeconds + 100) })));
    assert.equal(small.verifications, before + 1, "the oldest verdict was dropped");
  });
});

function reason(verdict: ReturnType<SignedUrlVerifier["verify"]>): string {
  return verdict.ok ? "ok" : verdict.reason;
}

describe("signed URLs: pushed keys and the play gate", () => {
  const pem = (k: KeyObject) => k.export({ type: "spki", format: "pem" }) as string;
  const pushed = (id: string, publicKey: KeyObject, accountId = selfAccount) => ({
    id,
    accountId,
    encodedKey: pem(publicKey),
  });

  test("the registry parses each pushed key once, follows changes, and reports keys it cannot use", () => {
    let current = new Map([[own.signer.id, pushed(own.signer.id, own.signer.publicKey)]]);
    const unusable: string[] = [];
    const registry = new SignerKeyRegistry({ publicKeys: () => current }, (k) =>
      unusable.push(`${k.id}: ${k.problem}`),
    );
    const first = registry.get(own.signer.id);
    assert.equal(first?.account, selfAccount);
    assert.equal(registry.get(own.signer.id)?.publicKey, first?.publicKey, "parsed once");
    const { publicKey: ec } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    current = new Map([
      [own.signer.id, pushed(own.signer.id, own.signer.publicKey)],
      [
        "KBROKEN",
        {
          id: "KBROKEN",
          accountId: selfAccount,
          encodedKey: "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----",
        },
      ],
      ["KEC", pushed("KEC", ec)],
    ]);
    assert.equal(registry.get(own.signer.id)?.publicKey, first?.publicKey, "an unchanged key is reused");
    assert.equal(registry.get("KBROKEN"), undefined);
    assert.equal(registry.get("KEC"), undefined);
    assert.equal(unusable.length, 2);
    assert.match(unusable.join("\n"), /KEC: not an RSA key/);
    registry.get("KBROKEN");
    assert.equal(unusable.length, 2, "reported once");
    current = new Map();
    assert.equal(registry.get(own.signer.id), undefined, "a deleted key is gone");
  });

  test("the gate: public distributions play anything; signed ones need a valid signature of a trusted account", () => {
    const registry = new SignerKeyRegistry({
      publicKeys: () => new Map([[own.signer.id, pushed(own.signer.id, own.signer.publicKey)]]),
    });
    let now = nowMs;
    const gate = new PlayAuthorizer(new SignedUrlVerifier({ keys: registry }), () => now);
    const base = {
      id: "E1",
      domainName: "s1.example",
      cnames: [],
      originBucket: "media",
      enabled: true,
      kind: 1 as const,
      logging: undefined,
    };
    const publicOne = { ...base, trustedSigners: { enabled: false, accountIds: [] } };
    const privateOne = { ...base, trustedSigners: { enabled: true, accountIds: [selfAccount] } };
    const request = (name: string) => parseStreamName(name)!;
    assert.deepEqual(gate.authorize(publicOne, request("videos/sample"), "203.0.113.7"), {
      allowed: true,
      signed: false,
    });
    const refused = gate.authorize(privateOne, request("videos/sample"), "203.0.113.7");
    assert.equal(refused.allowed, false);
    assert.ok(!refused.allowed);
    assert.equal(refused.reason, "unsigned");
    assert.equal(refused.description, "Access denied: this distribution serves signed URLs only");
    const signed = officialSigned("videos/sample", { dateLessThan: iso(nowSeconds + 60) });
    const allowed = gate.authorize(privateOne, request(signed), "203.0.113.7");
    assert.deepEqual(allowed, {
      allowed: true,
      signed: true,
      keyPairId: own.signer.id,
      expiresAtSeconds: nowSeconds + 60,
    });
    const mp4 = signed.replace("videos/sample", "mp4:videos/sample.mp4");
    assert.equal(gate.authorize(privateOne, request(mp4), "203.0.113.7").allowed, true);
    // GStreamer splits at the last slash: app cfx/st/videos, name sample?… — the Resource is still videos/sample.
    assert.equal(
      gate.authorize(privateOne, parseStreamName(signed.slice("videos/".length), "videos")!, "203.0.113.7")
        .allowed,
      true,
    );
    now = nowMs + 61_000;
    const expired = gate.authorize(privateOne, request(signed), "203.0.113.7");
    assert.ok(!expired.allowed);
    assert.equal(expired.reason, "expired");
    assert.equal(expired.description, "Access denied: the URL has expired");
  });
});
