/**
 * Garbage in, ApiError out: thousands of seeded random mutations of valid
 * request bodies go through every body parser, and nothing but an ApiError
 * may come out. What a parser accepts must also be storable (newDistribution
 * takes it) and survive render → parse unchanged. A failure names the seed
 * and case so it replays exactly.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Prng } from "../../lib/testing/prng.js";
import { ApiError, isApiErrorCode } from "../src/api/api-error.js";
import { configsEqual, toDistributionInput } from "../src/api/streaming-config/model.js";
import { codec2009 } from "../src/api/xml-2009.js";
import { codec2020 } from "../src/api/xml-2020.js";
import type { StreamingXmlCodec } from "../src/api/xml-types.js";
import { newDistribution } from "../src/distribution.js";

const ns = 'xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"';
const config =
  "<CallerReference>ref-1</CallerReference>" +
  "<S3Origin><DomainName>media.s3.amazonaws.com</DomainName><OriginAccessIdentity>origin-access-identity/cloudfront/E74FTE3AEXAMPLE</OriginAccessIdentity></S3Origin>" +
  "<Aliases><Quantity>2</Quantity><Items><CNAME>video.example.com</CNAME><CNAME>live.example.com</CNAME></Items></Aliases>" +
  "<Comment>my &lt;streams&gt; &amp; more</Comment>" +
  "<Logging><Enabled>true</Enabled><Bucket>mylogs.s3.amazonaws.com</Bucket><Prefix>rtmp/</Prefix></Logging>" +
  "<TrustedSigners><Enabled>true</Enabled><Quantity>2</Quantity><Items><AwsAccountNumber>self</AwsAccountNumber><AwsAccountNumber>111122223333</AwsAccountNumber></Items></TrustedSigners>" +
  "<PriceClass>PriceClass_100</PriceClass><Enabled>true</Enabled>";
const tags =
  "<Tags><Items><Tag><Key>team</Key><Value>video</Value></Tag><Tag><Key>env</Key></Tag></Items></Tags>";

const seeds: readonly string[] = [
  `<?xml version="1.0" encoding="UTF-8"?><StreamingDistributionConfig ${ns}>${config}</StreamingDistributionConfig>`,
  `<StreamingDistributionConfigWithTags ${ns}><StreamingDistributionConfig>${config}</StreamingDistributionConfig>${tags}</StreamingDistributionConfigWithTags>`,
  tags,
  "<TagKeys><Items><Key>team</Key><Key>env</Key></Items></TagKeys>",
  '<StreamingDistributionConfig xmlns="http://cloudfront.amazonaws.com/doc/2009-12-01/">\n  <Origin>mybucket.s3.amazonaws.com</Origin>\n  <CallerReference>20091130090000</CallerReference>\n  <CNAME>beagles.com</CNAME>\n  <Comment>My comments</Comment>\n  <Enabled>true</Enabled>\n</StreamingDistributionConfig>',
];

/** Fragments that tend to reach the corners of an XML reader. */
const dictionary: readonly string[] = [
  "<",
  ">",
  "/>",
  "</",
  "&",
  "&amp;",
  "&lt;",
  "&#0;",
  "&#65;",
  "&#x10FFFF;",
  "&#xD800;",
  "&bogus;",
  "&#99999999;",
  "<!DOCTYPE a>",
  '<!ENTITY x "y">',
  "<![CDATA[",
  "]]>",
  "<![CDATA[<&>]]>",
  "<!--",
  "-->",
  "<?xml version='1.0'?>",
  "<?pi x?>",
  '"',
  "'",
  "=",
  ' a="1"',
  ' a="<>"',
  ' xmlns:a="b"',
  "<a:b/>",
  "<__proto__/>",
  "<constructor/>",
  "<toString>x</toString>",
  "<hasOwnProperty/>",
  "<Items>",
  "</Items>",
  "<Items/>",
  "<Quantity>1</Quantity>",
  "<Quantity>-1</Quantity>",
  "<Quantity>99999999999</Quantity>",
  "<CNAME>a.example.com</CNAME>",
  "<Enabled>1</Enabled>",
  "<Tag><Key>k</Key></Tag>",
  "<Key>x</Key>",
  "<Comment/>",
  "\u0000",
  "\u0001",
  "\uFFFF",
  "\uFEFF",
  "é",
  "名",
  "😀",
  "\r\n",
  "\t",
  " ",
  "0",
  "true",
  "self",
  "PriceClass_All",
  "s3.amazonaws.com",
  "origin-access-identity/cloudfront/",
];

/** Dictionary entries that are character data, not markup. */
const textTokens = dictionary.filter((d) => !/[<>&]/.test(d) || /^&(?:amp|lt|#65);$/.test(d));

/** Well-formed fragments, inserted between elements. */
const fragments: readonly string[] = [
  "<Items/>",
  "<Items></Items>",
  "<Quantity>1</Quantity>",
  "<Quantity>0</Quantity>",
  "<CNAME>a.example.com</CNAME>",
  "<CNAME>A.EXAMPLE.COM</CNAME>",
  "<AwsAccountNumber>123456789012</AwsAccountNumber>",
  "<Enabled>false</Enabled>",
  "<Comment>x</Comment>",
  "<PriceClass>PriceClass_200</PriceClass>",
  "<Logging><Enabled>false</Enabled><Bucket/><Prefix/></Logging>",
  "<Aliases><Quantity>0</Quantity></Aliases>",
  "<Tag><Key>k</Key><Value>v</Value></Tag>",
  "<Key>k2</Key>",
  "<Unknown/>",
  "<!-- comment -->",
  "<![CDATA[x]]>",
  "text",
  "  \n  ",
];

type Parse = (body: Uint8Array) => unknown;

function parsersOf(codec: StreamingXmlCodec): readonly (readonly [string, Parse])[] {
  return [
    ["config", (b) => codec.parseStreamingDistributionConfig(b)],
    ["configWithTags", (b) => codec.parseStreamingDistributionConfigWithTags(b)],
    ["tags", (b) => codec.parseTags(b)],
    ["tagKeys", (b) => codec.parseTagKeys(b)],
  ];
}

/**
 * A mutated copy of input. Byte-level mutations mostly break well-formedness
 * (the XML layer's job); structural ones (element swaps, value swaps,
 * fragment inserts) keep it and reach the schema and value checks.
 */
function mutate(prng: Prng, input: Buffer, structural: boolean): Buffer {
  let out = input;
  const rounds = prng.int(1, 3);
  for (let r = 0; r < rounds; r++) {
    const at = prng.int(0, out.length);
    const end = Math.min(out.length, at + prng.int(0, 40));
    switch (structural ? prng.int(7, 10) : prng.int(0, 10)) {
      case 0: {
        if (out.length === 0) break;
        const copy = Buffer.from(out);
        copy[Math.min(at, copy.length - 1)] = prng.int(0, 255);
        out = copy;
        break;
      }
      case 1:
        out = Buffer.concat([out.subarray(0, at), Buffer.from(prng.pick(dictionary)), out.subarray(at)]);
        break;
      case 2:
        out = Buffer.concat([out.subarray(0, at), out.subarray(end)]);
        break;
      case 3:
        out = Buffer.concat([out.subarray(0, end), out.subarray(at, end), out.subarray(end)]);
        break;
      case 4:
        out = out.subarray(0, at);
        break;
      case 5:
        out = Buffer.concat([out.subarray(0, at), prng.bytes(prng.int(1, 8)), out.subarray(end)]);
        break;
      case 6: {
        // Repeat a slice many times: large bodies, deep or wide trees.
        const slice = out.subarray(at, end);
        out = Buffer.concat([
          out.subarray(0, at),
          ...Array.from({ length: prng.int(2, 400) }, () => slice),
          out.subarray(end),
        ]);
        break;
      }
      case 7: {
        // Swap an element name for another one of the schema.
        const text = out.toString("latin1");
        const names = text.match(/<\/?[A-Za-z][\w]*/g) ?? [];
        if (names.length < 2) break;
        const from = prng.pick(names).replace(/^<\/?/, "");
        const to = prng.pick(names).replace(/^<\/?/, "");
        // Every start and end tag of that name, so the document stays well-formed.
        out = Buffer.from(text.replace(new RegExp(`<(/?)${from}(?=[\\s/>])`, "g"), `<$1${to}`), "latin1");
        break;
      }
      case 8: {
        // Replace one text value (between > and <) with a token or random text: reaches the value checks.
        const text = out.toString("utf8");
        const values = [...text.matchAll(/>([^<>]*)</g)];
        if (values.length === 0) break;
        const value = prng.pick(values);
        const start = (value.index ?? 0) + 1;
        const replacement = prng.bool()
          ? (prng.pick(values)[1] ?? "")
          : prng.pick(textTokens).repeat(prng.int(1, 3));
        out = Buffer.from(text.slice(0, start) + replacement + text.slice(start + (value[1]?.length ?? 0)));
        break;
      }
      default: {
        // Insert a well-formed fragment at an element boundary.
        const text = out.toString("utf8");
        const boundaries = [...text.matchAll(/</g)].map((m) => m.index ?? 0);
        if (boundaries.length === 0) break;
        const where = prng.pick(boundaries);
        const fragment = prng.pick(fragments);
        out = Buffer.from(text.slice(0, where) + fragment + text.slice(where));
      }
    }
  }
  return out;
}

/** Runs one body through one parser; returns the error code, or "ok" with the result checked. */
function attempt(
  codecName: string,
  codec: StreamingXmlCodec,
  kind: string,
  parse: Parse,
  body: Buffer,
  where: string,
): string {
  let result: unknown;
  try {
    result = parse(body);
  } catch (error) {
    assert.ok(
      error instanceof ApiError,
      `${where}: ${codecName}.${kind} threw a non-ApiError: ${String(error)}`,
    );
    assert.ok(isApiErrorCode(error.code), `${where}: unknown code ${error.code}`);
    return error.code;
  }
  if (kind === "config" || kind === "configWithTags") {
    const parsed = (kind === "config" ? { config: result, tags: [] } : result) as ReturnType<
      StreamingXmlCodec["parseStreamingDistributionConfigWithTags"]
    >;
    // Whatever the API accepts, the model accepts too …
    const d = newDistribution(toDistributionInput(parsed.config, parsed.tags), {
      baseDomain: "x.test",
      now: 0,
    });
    // … and it survives the trip back out and in again.
    const again = codec.parseStreamingDistributionConfig(
      Buffer.from(codec.renderStreamingDistributionConfig(d, { apiVersion: "2020-05-31", accountId: "1" })),
    );
    assert.ok(configsEqual(again, parsed.config), `${where}: round trip changed the config`);
  }
  return "ok";
}

describe("XML parsers under random input", () => {
  it("every seed parses as given", () => {
    assert.equal(
      attempt(
        "2020",
        codec2020,
        "config",
        (b) => codec2020.parseStreamingDistributionConfig(b),
        Buffer.from(seeds[0]!),
        "seed 0",
      ),
      "ok",
    );
    assert.equal(
      attempt(
        "2020",
        codec2020,
        "configWithTags",
        (b) => codec2020.parseStreamingDistributionConfigWithTags(b),
        Buffer.from(seeds[1]!),
        "seed 1",
      ),
      "ok",
    );
    assert.equal(
      attempt("2020", codec2020, "tags", (b) => codec2020.parseTags(b), Buffer.from(seeds[2]!), "seed 2"),
      "ok",
    );
    assert.equal(
      attempt(
        "2020",
        codec2020,
        "tagKeys",
        (b) => codec2020.parseTagKeys(b),
        Buffer.from(seeds[3]!),
        "seed 3",
      ),
      "ok",
    );
    assert.equal(
      attempt(
        "2009",
        codec2009,
        "config",
        (b) => codec2009.parseStreamingDistributionConfig(b),
        Buffer.from(seeds[4]!),
        "seed 4",
      ),
      "ok",
    );
  });

  it("only ApiError escapes, for 4000 mutations of valid bodies and 500 random ones", (t) => {
    const seed = 0x5f3759df;
    const prng = new Prng(seed);
    const outcomes = new Map<string, number>();
    const codecs = [
      ["2020", codec2020],
      ["2009", codec2009],
    ] as const;
    const started = Date.now();
    for (let i = 0; i < 4500; i++) {
      const body =
        i < 4000 ? mutate(prng, Buffer.from(prng.pick(seeds)), i % 2 === 0) : prng.bytes(prng.int(0, 300));
      for (const [codecName, codec] of codecs) {
        for (const [kind, parse] of parsersOf(codec)) {
          const outcome = attempt(codecName, codec, kind, parse, body, `seed ${seed} case ${i}`);
          outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
        }
      }
    }
    const elapsed = Date.now() - started;
    t.diagnostic(`outcomes: ${JSON.stringify(Object.fromEntries([...outcomes].sort()))} in ${elapsed} ms`);
    // The mutations must reach past the XML layer into the schema and value checks.
    for (const code of ["ok", "MalformedXML", "MalformedInput", "InvalidArgument", "InappropriateXML"]) {
      assert.ok((outcomes.get(code) ?? 0) > 0, `no case ended in ${code}`);
    }
  });

  it("stays fast on hostile shapes at the size bound", () => {
    const hostile = [
      `<a>${"<b/>".repeat(16_000)}</a>`,
      `${"<a>".repeat(10_000)}`,
      `<a b="${"<".repeat(60_000)}"/>`,
      `<a>${"&amp;".repeat(12_000)}</a>`,
      `<a>${"<!---->".repeat(9000)}</a>`,
      `<a>${"<![CDATA[x]]>".repeat(5000)}</a>`,
      `<Tags><Items>${"<Tag><Key>k</Key></Tag>".repeat(2500)}</Items></Tags>`,
    ];
    for (const text of hostile) {
      const body = Buffer.from(text);
      assert.ok(body.length <= 64 * 1024, `${body.length}`);
      const started = performance.now();
      for (const [, parse] of parsersOf(codec2020)) {
        assert.throws(() => parse(body), ApiError);
      }
      const elapsed = performance.now() - started;
      // Linear parsing takes milliseconds, a quadratic one on 60,000 characters
      // minutes: 5 s separates them on any load (it was 500 ms, which a busy
      // 2-core machine can spend on one garbage collection).
      assert.ok(elapsed < 5_000, `${text.slice(0, 20)}… took ${elapsed.toFixed(0)} ms`);
    }
  });
});
