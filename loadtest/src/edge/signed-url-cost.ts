import { createHash, generateKeyPairSync } from "node:crypto";
import { getSignedUrl } from "@aws-sdk/cloudfront-signer";
import { parseStreamName } from "../../../edge/src/routing/stream-name.js";
import { PlayAuthorizer } from "../../../edge/src/signed-urls/play-authorizer.js";
import { SignedUrlVerifier, type SignerKey } from "../../../edge/src/signed-urls/signed-url-verifier.js";
import type { Distribution } from "../../../lib/config-watcher.js";
import { fixed, median, table } from "../harness/stats.js";

/**
 * What the signed-URL gate costs a play (issue 11): the edge's own
 * PlayAuthorizer, in this process, over names signed by the official
 * signer with a 2,048-bit RSA key — the cost of the first play of a name
 * (parse, rebuild the policy, one RSA verification), of the same name again
 * (a seek: the verdict is cached, conditions are checked), of a custom
 * policy with an IP condition, and of a distribution without trusted
 * signers (the price every public play pays). Microseconds per play event,
 * medians of `runs`.
 */
export interface SignedUrlCost {
  readonly names: number;
  readonly runs: number;
  readonly keyBits: number;
  /** µs per first play of a distinct canned-policy name. */
  readonly cannedColdMicros: number;
  /** µs per first play of a distinct custom-policy (IP) name. */
  readonly customColdMicros: number;
  /** µs per repeated play event (verdict cached). */
  readonly cachedMicros: number;
  /** µs per play on a public distribution. */
  readonly publicMicros: number;
}

export function measureSignedUrlCost(names: number, runs: number): SignedUrlCost {
  const keyBits = 2048;
  const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: keyBits });
  const privatePem = privateKey.export({ type: "pkcs8", format: "pem" }) as string;
  const key: SignerKey = {
    id: "KBENCHKEY00001",
    account: "123456789012",
    publicKey,
    fingerprint: createHash("sha256")
      .update(publicKey.export({ type: "spki", format: "der" }))
      .digest("hex"),
  };
  const expires = new Date(Date.now() + 3_600_000).toISOString();
  const sign = (i: number, ipAddress?: string) =>
    getSignedUrl({
      url: `rtmp://bench.example/videos/clip-${i}`,
      keyPairId: key.id,
      privateKey: privatePem,
      dateLessThan: expires,
      ...(ipAddress ? { ipAddress } : {}),
    });
  const canned = Array.from({ length: names }, (_, i) => parseStreamName(sign(i))!);
  const custom = Array.from({ length: names }, (_, i) => parseStreamName(sign(i, "127.0.0.0/8"))!);
  const base = {
    id: "EBENCH",
    domainName: "bench.example",
    cnames: [],
    originBucket: "media",
    enabled: true,
    kind: 1 as const,
    logging: undefined,
  };
  const signedOne: Distribution = { ...base, trustedSigners: { enabled: true, accountIds: [key.account] } };
  const publicOne: Distribution = { ...base, trustedSigners: { enabled: false, accountIds: [] } };

  const perPlay = (gate: PlayAuthorizer, distribution: Distribution, requests: typeof canned): number => {
    const started = process.hrtime.bigint();
    for (const request of requests) {
      const access = gate.authorize(distribution, request, "127.0.0.1");
      if (!access.allowed) throw new Error(`bench name refused: ${access.reason}`);
    }
    return Number(process.hrtime.bigint() - started) / 1000 / requests.length;
  };
  const samples = {
    cannedCold: [] as number[],
    customCold: [] as number[],
    cached: [] as number[],
    public: [] as number[],
  };
  const gate = () =>
    new PlayAuthorizer(
      new SignedUrlVerifier({ keys: { get: (id) => (id === key.id ? key : undefined) } }),
      Date.now,
    );
  // Warm-up (JIT, first-use costs of the crypto and JSON paths) before anything is measured.
  perPlay(gate(), signedOne, canned.slice(0, 100));
  perPlay(gate(), signedOne, custom.slice(0, 100));
  for (let run = 0; run < runs; run++) {
    const warm = gate();
    samples.cannedCold.push(perPlay(warm, signedOne, canned));
    samples.cached.push(perPlay(warm, signedOne, canned));
    samples.customCold.push(perPlay(gate(), signedOne, custom));
    samples.public.push(perPlay(gate(), publicOne, canned));
  }
  return {
    names,
    runs,
    keyBits,
    cannedColdMicros: median(samples.cannedCold),
    customColdMicros: median(samples.customCold),
    cachedMicros: median(samples.cached),
    publicMicros: median(samples.public),
  };
}

export function reportSignedUrlCost(cost: SignedUrlCost): string[] {
  return [
    "",
    `Signed URLs: the edge's play gate, µs per play event (RSA ${cost.keyBits}, ${cost.names} names, medians of ${cost.runs} runs)`,
    table(
      ["play event", "µs"],
      [
        ["first play, canned policy (RSA-SHA1 verify)", fixed(cost.cannedColdMicros, 1)],
        ["first play, custom policy with IP", fixed(cost.customColdMicros, 1)],
        ["same name again (seek; verdict cached)", fixed(cost.cachedMicros, 1)],
        ["public distribution (no trusted signers)", fixed(cost.publicMicros, 2)],
      ],
    ),
  ];
}
