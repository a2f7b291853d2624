import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ApiError,
  type ApiErrorCode,
  apiErrorStatus,
  renderError,
  toApiError,
} from "../src/api/api-error.js";
import { parseStreamingDistributionArn, streamingDistributionArn } from "../src/api/streaming-config/arn.js";
import { parseListParameters } from "../src/api/streaming-config/list-parameters.js";
import {
  configFromDistribution,
  configsEqual,
  type StreamingConfigInput,
  tagsEqual,
  toDistributionInput,
  toDistributionPatch,
} from "../src/api/streaming-config/model.js";
import { checkUpdate, type ParseOptions, parseS3Origin } from "../src/api/streaming-config/rules.js";
import * as xml2009 from "../src/api/xml-2009.js";
import * as xml2020 from "../src/api/xml-2020.js";
import { codecForVersion, servedApiVersions } from "../src/api/xml-codec.js";
import { readXmlDocument, xmlInputLimits } from "../src/api/xml-reader.js";
import type { StreamingXmlCodec } from "../src/api/xml-types.js";
import { escapeXmlText } from "../src/api/xml-writer.js";
import { type Distribution, newDistribution } from "../src/distribution.js";
import { ControllerError, ControllerErrorCode } from "../src/errors.js";

const ns2020 = "http://cloudfront.amazonaws.com/doc/2020-05-31/";
const ns2009 = "http://cloudfront.amazonaws.com/doc/2009-12-01/";
const context2020 = { apiVersion: "2020-05-31", accountId: "123456789012" };
const context2009 = { apiVersion: "2009-12-01", accountId: "123456789012" };
const now = Date.UTC(2026, 10, 22, 10, 0, 0);

/** The children of a full 2020 config; `replace` edits it for the error cases. */
const configChildren2020 =
  "<CallerReference>ref-1</CallerReference>" +
  "<S3Origin><DomainName>media.s3.amazonaws.com</DomainName><OriginAccessIdentity>origin-access-identity/cloudfront/E74FTE3AEXAMPLE</OriginAccessIdentity></S3Origin>" +
  "<Aliases><Quantity>2</Quantity><Items><CNAME>video.example.com</CNAME><CNAME>live.example.com</CNAME></Items></Aliases>" +
  "<Comment>my &lt;streams&gt; &amp; more</Comment>" +
  "<Logging><Enabled>true</Enabled><Bucket>mylogs.s3.amazonaws.com</Bucket><Prefix>rtmp/</Prefix></Logging>" +
  "<TrustedSigners><Enabled>true</Enabled><Quantity>2</Quantity><Items><AwsAccountNumber>self</AwsAccountNumber><AwsAccountNumber>111122223333</AwsAccountNumber></Items></TrustedSigners>" +
  "<PriceClass>PriceClass_100</PriceClass>" +
  "<Enabled>true</Enabled>";
const config2020 = `<?xml version="1.0" encoding="UTF-8"?><StreamingDistributionConfig xmlns="${ns2020}">${configChildren2020}</StreamingDistributionConfig>`;
const tagsXml =
  "<Tags><Items><Tag><Key>team</Key><Value>video</Value></Tag><Tag><Key>env</Key></Tag></Items></Tags>";
const withTags2020 = `<StreamingDistributionConfigWithTags xmlns="${ns2020}"><StreamingDistributionConfig>${configChildren2020}</StreamingDistributionConfig>${tagsXml}</StreamingDistributionConfigWithTags>`;
const config2009 =
  `<?xml version="1.0" encoding="UTF-8"?>\n<StreamingDistributionConfig xmlns="${ns2009}">\n` +
  "  <Origin>mybucket.s3.amazonaws.com</Origin>\n" +
  "  <CallerReference>20091130090000</CallerReference>\n" +
  "  <CNAME>beagles.com</CNAME>\n  <CNAME>www.beagles.com</CNAME>\n" +
  "  <Comment>My comments</Comment>\n" +
  "  <Enabled>true</Enabled>\n</StreamingDistributionConfig>\n";

const bytes = (text: string) => Buffer.from(text, "utf8");

function distributionFrom(config: StreamingConfigInput, tags = [] as const): Distribution {
  const d = newDistribution(toDistributionInput(config, tags), { baseDomain: "cloudfront.test", now });
  return {
    ...d,
    id: "EGTXBD79EXAMPLE",
    domainName: "s5c39gqb8ow64r.cloudfront.test",
    etag: "E2QWRUHEXAMPLE",
  };
}

/** Asserts fn throws an ApiError with code (and, if given, a message containing text). */
function assertApiError(fn: () => unknown, code: ApiErrorCode, text?: string): ApiError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ApiError, `expected ApiError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.equal(caught.httpStatus, apiErrorStatus[code]);
  if (text !== undefined) assert.ok(caught.message.includes(text), `"${caught.message}" lacks "${text}"`);
  return caught;
}

describe("API 2020-05-31 XML", () => {
  it("reads a full StreamingDistributionConfig", () => {
    const config = xml2020.parseStreamingDistributionConfig(bytes(config2020));
    assert.deepEqual(config, {
      shape: "2012-05-05",
      callerReference: "ref-1",
      originDomainName: "media.s3.amazonaws.com",
      originBucket: "media",
      originAccessIdentity: "origin-access-identity/cloudfront/E74FTE3AEXAMPLE",
      aliases: ["video.example.com", "live.example.com"],
      comment: "my <streams> & more",
      logging: { enabled: true, bucket: "mylogs.s3.amazonaws.com", prefix: "rtmp/" },
      trustedSigners: { enabled: true, accounts: ["self", "111122223333"] },
      priceClass: "PriceClass_100",
      enabled: true,
    });
  });

  it("fills in the optional elements (Aliases, Logging, PriceClass) and takes pretty-printed XML", () => {
    const body = `<StreamingDistributionConfig xmlns="${ns2020}">
      <CallerReference>r</CallerReference>
      <S3Origin>
        <DomainName> Media.S3.eu-west-1.amazonaws.com </DomainName>
        <OriginAccessIdentity/>
      </S3Origin>
      <Comment/>
      <!-- no signers -->
      <TrustedSigners><Enabled>false</Enabled><Quantity>0</Quantity></TrustedSigners>
      <Enabled>
        false
      </Enabled>
    </StreamingDistributionConfig>`;
    const config = xml2020.parseStreamingDistributionConfig(bytes(body));
    assert.equal(config.originDomainName, "media.s3.eu-west-1.amazonaws.com");
    assert.equal(config.originBucket, "media");
    assert.deepEqual(config.aliases, []);
    assert.deepEqual(config.logging, { enabled: false, bucket: "", prefix: "" });
    assert.deepEqual(config.trustedSigners, { enabled: false, accounts: [] });
    assert.equal(config.priceClass, "PriceClass_All");
    assert.equal(config.enabled, false);
    assert.equal(config.comment, "");
  });

  it("decodes entities, character references and CDATA, and keeps free text as written", () => {
    const body = config2020.replace(
      "<Comment>my &lt;streams&gt; &amp; more</Comment>",
      "<Comment> &#65;&#x42;&quot;&apos;<![CDATA[<&amp;>]]> </Comment>",
    );
    assert.equal(xml2020.parseStreamingDistributionConfig(bytes(body)).comment, ` AB"'<&amp;> `);
  });

  it("skips a UTF-8 byte-order mark", () => {
    const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes(config2020)]);
    assert.equal(xml2020.parseStreamingDistributionConfig(body).callerReference, "ref-1");
  });

  it("clears the logging bucket and prefix when logging is disabled", () => {
    const body = config2020.replace("<Enabled>true</Enabled><Bucket>", "<Enabled>false</Enabled><Bucket>");
    assert.deepEqual(xml2020.parseStreamingDistributionConfig(bytes(body)).logging, {
      enabled: false,
      bucket: "",
      prefix: "",
    });
  });

  it("reads a config with tags (a Tag without Value has an empty value)", () => {
    const { config, tags } = xml2020.parseStreamingDistributionConfigWithTags(bytes(withTags2020));
    assert.equal(config.callerReference, "ref-1");
    assert.deepEqual(tags, [
      { key: "team", value: "video" },
      { key: "env", value: "" },
    ]);
  });

  it("reads Tags and TagKeys", () => {
    assert.deepEqual(
      xml2020.parseTags(
        bytes(`<Tags xmlns="${ns2020}"><Items><Tag><Key>a b</Key><Value>ünï 1</Value></Tag></Items></Tags>`),
      ),
      [{ key: "a b", value: "ünï 1" }],
    );
    assert.deepEqual(xml2020.parseTags(bytes("<Tags><Items/></Tags>")), []);
    assert.deepEqual(xml2020.parseTags(bytes("<Tags/>")), []);
    assert.deepEqual(
      xml2020.parseTagKeys(bytes("<TagKeys><Items><Key>a</Key><Key>b</Key><Key>a</Key></Items></TagKeys>")),
      ["a", "b"],
    );
    assert.deepEqual(xml2020.parseTagKeys(bytes("<TagKeys/>")), []);
  });

  it("round-trips: parse → distribution → render config → parse gives the same config", () => {
    const config = xml2020.parseStreamingDistributionConfig(bytes(config2020));
    const d = distributionFrom(config);
    const rendered = xml2020.renderStreamingDistributionConfig(d, context2020);
    assert.ok(
      rendered.startsWith(
        `<?xml version="1.0" encoding="UTF-8"?><StreamingDistributionConfig xmlns="${ns2020}">`,
      ),
    );
    const again = xml2020.parseStreamingDistributionConfig(bytes(rendered));
    assert.deepEqual(again, config);
    assert.ok(configsEqual(again, config));
  });

  it("renders a StreamingDistribution exactly", () => {
    const d = distributionFrom(xml2020.parseStreamingDistributionConfig(bytes(config2020)));
    const xml = xml2020.renderStreamingDistribution(
      {
        distribution: d,
        status: "InProgress",
        activeKeyPairIds: new Map([["self", ["APKAEIBAERJR2EXAMPLE"]]]),
      },
      context2020,
    );
    assert.equal(
      xml,
      `<?xml version="1.0" encoding="UTF-8"?><StreamingDistribution xmlns="${ns2020}">` +
        "<Id>EGTXBD79EXAMPLE</Id>" +
        "<ARN>arn:aws:cloudfront::123456789012:streaming-distribution/EGTXBD79EXAMPLE</ARN>" +
        "<Status>InProgress</Status>" +
        "<LastModifiedTime>2026-11-22T10:00:00.000Z</LastModifiedTime>" +
        "<DomainName>s5c39gqb8ow64r.cloudfront.test</DomainName>" +
        "<ActiveTrustedSigners><Enabled>true</Enabled><Quantity>2</Quantity><Items>" +
        "<Signer><AwsAccountNumber>self</AwsAccountNumber><KeyPairIds><Quantity>1</Quantity><Items><KeyPairId>APKAEIBAERJR2EXAMPLE</KeyPairId></Items></KeyPairIds></Signer>" +
        "<Signer><AwsAccountNumber>111122223333</AwsAccountNumber><KeyPairIds><Quantity>0</Quantity></KeyPairIds></Signer>" +
        "</Items></ActiveTrustedSigners>" +
        "<StreamingDistributionConfig>" +
        "<CallerReference>ref-1</CallerReference>" +
        "<S3Origin><DomainName>media.s3.amazonaws.com</DomainName><OriginAccessIdentity>origin-access-identity/cloudfront/E74FTE3AEXAMPLE</OriginAccessIdentity></S3Origin>" +
        "<Aliases><Quantity>2</Quantity><Items><CNAME>video.example.com</CNAME><CNAME>live.example.com</CNAME></Items></Aliases>" +
        "<Comment>my &lt;streams&gt; &amp; more</Comment>" +
        "<Logging><Enabled>true</Enabled><Bucket>mylogs.s3.amazonaws.com</Bucket><Prefix>rtmp/</Prefix></Logging>" +
        "<TrustedSigners><Enabled>true</Enabled><Quantity>2</Quantity><Items><AwsAccountNumber>self</AwsAccountNumber><AwsAccountNumber>111122223333</AwsAccountNumber></Items></TrustedSigners>" +
        "<PriceClass>PriceClass_100</PriceClass>" +
        "<Enabled>true</Enabled>" +
        "</StreamingDistributionConfig></StreamingDistribution>",
    );
  });

  it("lists no active signers when signed URLs are off, and none are enabled without key pairs", () => {
    const base = distributionFrom(xml2020.parseStreamingDistributionConfig(bytes(config2020)));
    const off = { ...base, trustedSigners: { enabled: false, accounts: ["self"] } };
    assert.ok(
      xml2020
        .renderStreamingDistribution({ distribution: off, status: "Deployed" }, context2020)
        .includes(
          "<ActiveTrustedSigners><Enabled>false</Enabled><Quantity>0</Quantity></ActiveTrustedSigners>",
        ),
    );
    const noKeys = xml2020.renderStreamingDistribution(
      { distribution: base, status: "Deployed" },
      context2020,
    );
    assert.ok(noKeys.includes("<ActiveTrustedSigners><Enabled>false</Enabled><Quantity>2</Quantity><Items>"));
  });

  it("renders a list page with and without NextMarker, and an empty one without Items", () => {
    const d = distributionFrom(xml2020.parseStreamingDistributionConfig(bytes(config2020)));
    const page = xml2020.renderStreamingDistributionList(
      {
        items: [{ distribution: d, status: "Deployed" }],
        marker: "",
        maxItems: 1,
        nextMarker: d.id,
        isTruncated: true,
      },
      context2020,
    );
    assert.ok(
      page.includes(
        "<Marker></Marker><NextMarker>EGTXBD79EXAMPLE</NextMarker><MaxItems>1</MaxItems><IsTruncated>true</IsTruncated><Quantity>1</Quantity><Items><StreamingDistributionSummary><Id>EGTXBD79EXAMPLE</Id>",
      ),
    );
    assert.ok(
      page.includes(
        "<Comment>my &lt;streams&gt; &amp; more</Comment><PriceClass>PriceClass_100</PriceClass><Enabled>true</Enabled></StreamingDistributionSummary></Items>",
      ),
    );
    const empty = xml2020.renderStreamingDistributionList(
      { items: [], marker: "EABC", maxItems: 100, isTruncated: false },
      context2020,
    );
    assert.equal(
      empty,
      `<?xml version="1.0" encoding="UTF-8"?><StreamingDistributionList xmlns="${ns2020}"><Marker>EABC</Marker><MaxItems>100</MaxItems><IsTruncated>false</IsTruncated><Quantity>0</Quantity></StreamingDistributionList>`,
    );
  });

  it("renders tags, escaping text, and names the request's version in the namespace", () => {
    assert.equal(
      xml2020.renderTags([{ key: "a&b", value: "<v>" }], { apiVersion: "2016-08-01", accountId: "1" }),
      '<?xml version="1.0" encoding="UTF-8"?><Tags xmlns="http://cloudfront.amazonaws.com/doc/2016-08-01/"><Items><Tag><Key>a&amp;b</Key><Value>&lt;v&gt;</Value></Tag></Items></Tags>',
    );
    assert.ok(
      xml2020
        .renderTags([], context2020)
        .endsWith('<Tags xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Items/></Tags>'),
    );
  });
});

describe("API 2009-12-01 XML", () => {
  it("reads the launch-era config (top-level Origin, repeated CNAME)", () => {
    assert.deepEqual(xml2009.parseStreamingDistributionConfig(bytes(config2009)), {
      shape: "2009-12-01",
      callerReference: "20091130090000",
      originDomainName: "mybucket.s3.amazonaws.com",
      originBucket: "mybucket",
      originAccessIdentity: "",
      aliases: ["beagles.com", "www.beagles.com"],
      comment: "My comments",
      logging: { enabled: false, bucket: "", prefix: "" },
      trustedSigners: { enabled: false, accounts: [] },
      priceClass: "PriceClass_All",
      enabled: true,
    });
  });

  it("round-trips and renders the 2009 shapes exactly", () => {
    const config = xml2009.parseStreamingDistributionConfig(bytes(config2009));
    const d = distributionFrom(config);
    const configXml = xml2009.renderStreamingDistributionConfig(d, context2009);
    assert.deepEqual(xml2009.parseStreamingDistributionConfig(bytes(configXml)), config);
    const inner =
      "<Origin>mybucket.s3.amazonaws.com</Origin><CallerReference>20091130090000</CallerReference>" +
      "<CNAME>beagles.com</CNAME><CNAME>www.beagles.com</CNAME><Comment>My comments</Comment><Enabled>true</Enabled>";
    assert.equal(
      xml2009.renderStreamingDistribution({ distribution: d, status: "Deployed" }, context2009),
      `<?xml version="1.0" encoding="UTF-8"?><StreamingDistribution xmlns="${ns2009}"><Id>EGTXBD79EXAMPLE</Id><Status>Deployed</Status>` +
        "<LastModifiedTime>2026-11-22T10:00:00.000Z</LastModifiedTime><DomainName>s5c39gqb8ow64r.cloudfront.test</DomainName>" +
        `<StreamingDistributionConfig>${inner}</StreamingDistributionConfig></StreamingDistribution>`,
    );
    assert.equal(
      xml2009.renderStreamingDistributionList(
        {
          items: [{ distribution: d, status: "InProgress" }],
          marker: "",
          maxItems: 1,
          nextMarker: d.id,
          isTruncated: true,
        },
        context2009,
      ),
      `<?xml version="1.0" encoding="UTF-8"?><StreamingDistributionList xmlns="${ns2009}"><Marker></Marker><NextMarker>EGTXBD79EXAMPLE</NextMarker>` +
        "<MaxItems>1</MaxItems><IsTruncated>true</IsTruncated><StreamingDistributionSummary><Id>EGTXBD79EXAMPLE</Id><Status>InProgress</Status>" +
        "<LastModifiedTime>2026-11-22T10:00:00.000Z</LastModifiedTime><DomainName>s5c39gqb8ow64r.cloudfront.test</DomainName>" +
        "<Origin>mybucket.s3.amazonaws.com</Origin><CNAME>beagles.com</CNAME><CNAME>www.beagles.com</CNAME><Comment>My comments</Comment>" +
        "<Enabled>true</Enabled></StreamingDistributionSummary></StreamingDistributionList>",
    );
  });

  it("renders a distribution made with a later version without the fields 2009 lacks", () => {
    const d = distributionFrom(xml2020.parseStreamingDistributionConfig(bytes(config2020)));
    const xml = xml2009.renderStreamingDistributionConfig(d, context2009);
    assert.ok(
      !xml.includes("OriginAccessIdentity") && !xml.includes("Logging") && !xml.includes("PriceClass"),
    );
    assert.equal(xml2009.parseStreamingDistributionConfig(bytes(xml)).originBucket, "media");
  });

  it("an update in the 2009 shape leaves the fields 2009 cannot express alone", () => {
    const patch = toDistributionPatch(xml2009.parseStreamingDistributionConfig(bytes(config2009)));
    assert.deepEqual(patch, {
      cnames: ["beagles.com", "www.beagles.com"],
      enabled: true,
      comment: "My comments",
    });
    const full = toDistributionPatch(xml2020.parseStreamingDistributionConfig(bytes(config2020)));
    assert.deepEqual(Object.keys(full).sort(), [
      "cnames",
      "comment",
      "enabled",
      "logging",
      "originAccessIdentity",
      "priceClass",
      "trustedSigners",
    ]);
  });

  it("has no tagging (InvalidAction)", () => {
    assertApiError(() => xml2009.parseTags(bytes(tagsXml)), "InvalidAction");
    assertApiError(() => xml2009.parseTagKeys(bytes("<TagKeys/>")), "InvalidAction");
    assertApiError(
      () => xml2009.parseStreamingDistributionConfigWithTags(bytes(withTags2020)),
      "InvalidAction",
    );
    assertApiError(() => xml2009.renderTags([], context2009), "InvalidAction");
  });
});

describe("API versions", () => {
  it("serves 2009-12-01 and every version from 2012-05-05 through 2020-05-31", () => {
    assert.equal(codecForVersion("2009-12-01"), xml2009.codec2009);
    for (const v of ["2012-05-05", "2014-05-31", "2016-08-01", "2019-03-26", "2020-05-31"]) {
      assert.equal(codecForVersion(v), xml2020.codec2020, v);
    }
    for (const v of ["2010-11-01", "2021-01-01", "latest", "", "2020-05-31/"])
      assert.equal(codecForVersion(v), undefined, v);
    assert.equal(servedApiVersions[0], "2009-12-01");
    assert.equal(servedApiVersions.at(-1), "2020-05-31");
    assert.equal(servedApiVersions.length, 28);
  });
});

/**
 * Every error a body parser can produce, each from the smallest body that
 * shows it. The last test checks the list covers every parser code.
 */
interface ErrorCase {
  readonly name: string;
  readonly parse: (body: Uint8Array, options?: ParseOptions) => unknown;
  readonly body: string | Uint8Array;
  readonly code: ApiErrorCode;
  readonly text: string;
  readonly options?: ParseOptions;
}

const cfg = (from: string, to: string) => {
  assert.ok(config2020.includes(from), from);
  return config2020.replace(from, to);
};
const parse20 = xml2020.parseStreamingDistributionConfig;
const parseTags20 = xml2020.parseTags;
const signers = (items: readonly string[], enabled = true) =>
  `<TrustedSigners><Enabled>${enabled}</Enabled><Quantity>${items.length}</Quantity>${items.length ? `<Items>${items.map((i) => `<AwsAccountNumber>${i}</AwsAccountNumber>`).join("")}</Items>` : ""}</TrustedSigners>`;
const originalSigners = signers(["self", "111122223333"]);
const tagsBody = (tags: readonly string[]) => `<Tags><Items>${tags.join("")}</Items></Tags>`;
const tag = (key: string, value?: string) =>
  `<Tag><Key>${key}</Key>${value === undefined ? "" : `<Value>${value}</Value>`}</Tag>`;

const errorCases: readonly ErrorCase[] = [
  // Size and framing
  {
    name: "body over maxBodyBytes",
    parse: parse20,
    body: config2020,
    options: { maxBodyBytes: 100 },
    code: "EntityTooLarge",
    text: "too large",
  },
  { name: "empty body", parse: parse20, body: "", code: "MissingBody", text: "empty" },
  { name: "whitespace body", parse: parse20, body: " \r\n\t", code: "MissingBody", text: "empty" },
  // Not well-formed or unsafe
  {
    name: "invalid UTF-8",
    parse: parse20,
    body: Buffer.from([0x3c, 0x61, 0xff, 0x3e]),
    code: "MalformedXML",
    text: "UTF-8",
  },
  {
    name: "DOCTYPE",
    parse: parse20,
    body: '<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>',
    code: "MalformedXML",
    text: "DOCTYPE",
  },
  {
    name: "ENTITY alone",
    parse: parse20,
    body: '<x><!ENTITY a "b"></x>',
    code: "MalformedXML",
    text: "ENTITY",
  },
  {
    name: "lower-case doctype",
    parse: parse20,
    body: "<!doctype x><x/>",
    code: "MalformedXML",
    text: "DOCTYPE",
  },
  {
    name: "other declaration",
    parse: parse20,
    body: "<x><!ELEMENT x ANY></x>",
    code: "MalformedXML",
    text: "declarations",
  },
  {
    name: "control character",
    parse: parse20,
    body: "<x>\u0001</x>",
    code: "MalformedXML",
    text: "character",
  },
  {
    name: "UTF-8-encoded surrogate",
    parse: parse20,
    body: Buffer.from([0x3c, 0x61, 0x3e, 0xed, 0xa0, 0x80, 0x3c, 0x2f, 0x61, 0x3e]),
    code: "MalformedXML",
    text: "UTF-8",
  },
  {
    name: "too many elements",
    parse: parseTags20,
    body: `<Tags>${"<a/>".repeat(xmlInputLimits.maxElements)}</Tags>`,
    code: "MalformedXML",
    text: "elements",
  },
  {
    name: "too deep",
    parse: parse20,
    body: `${"<a>".repeat(17)}${"</a>".repeat(17)}`,
    code: "MalformedXML",
    text: "deep",
  },
  {
    name: "mismatched tags",
    parse: parse20,
    body: "<a><b></a>",
    code: "MalformedXML",
    text: "not well-formed",
  },
  { name: "unterminated tag", parse: parse20, body: "<a><b", code: "MalformedXML", text: "unterminated" },
  {
    name: "unterminated comment",
    parse: parse20,
    body: "<a><!-- x",
    code: "MalformedXML",
    text: "unterminated",
  },
  { name: "not XML", parse: parse20, body: "hello", code: "MalformedXML", text: "outside the root" },
  {
    name: "validator: bad tag name",
    parse: parse20,
    body: "<1a/>",
    code: "MalformedXML",
    text: "not well-formed",
  },
  { name: "two roots", parse: parse20, body: "<a/><b/>", code: "MalformedXML", text: "more than one root" },
  { name: "text after root", parse: parse20, body: "<a/>x", code: "MalformedXML", text: "outside the root" },
  { name: "text before root", parse: parse20, body: "x<a/>", code: "MalformedXML", text: "outside the root" },
  { name: "comment only", parse: parse20, body: "<!-- x -->", code: "MalformedXML", text: "not well-formed" },
  {
    name: "undefined entity",
    parse: parse20,
    body: "<a>&nbsp;</a>",
    code: "MalformedXML",
    text: "undefined entity",
  },
  {
    name: "bad character reference",
    parse: parse20,
    body: "<a>&#0;</a>",
    code: "MalformedXML",
    text: "character reference",
  },
  {
    name: "long entity name",
    parse: parse20,
    body: `<a>&${"x".repeat(20)};</a>`,
    code: "MalformedXML",
    text: "entity reference",
  },
  {
    name: "name the parser refuses",
    parse: parse20,
    body: "<a><__proto__>1</__proto__></a>",
    code: "MalformedXML",
    text: "not well-formed",
  },
  // Wrong document for the operation
  {
    name: "wrong root",
    parse: parse20,
    body: `<DistributionConfig xmlns="${ns2020}"/>`,
    code: "InappropriateXML",
    text: "DistributionConfig",
  },
  {
    name: "tags where a config belongs",
    parse: xml2020.parseStreamingDistributionConfigWithTags,
    body: config2020,
    code: "InappropriateXML",
    text: "StreamingDistributionConfigWithTags",
  },
  {
    name: "2009 root mismatch",
    parse: xml2009.parseStreamingDistributionConfig,
    body: tagsXml,
    code: "InappropriateXML",
    text: "Tags",
  },
  // Structure
  {
    name: "missing required element",
    parse: parse20,
    body: cfg("<Enabled>true</Enabled></StreamingDistributionConfig>", "</StreamingDistributionConfig>"),
    code: "MalformedInput",
    text: "Missing required element StreamingDistributionConfig/Enabled",
  },
  {
    name: "missing nested element",
    parse: parse20,
    body: cfg(
      "<OriginAccessIdentity>origin-access-identity/cloudfront/E74FTE3AEXAMPLE</OriginAccessIdentity>",
      "",
    ),
    code: "MalformedInput",
    text: "StreamingDistributionConfig/S3Origin/OriginAccessIdentity",
  },
  {
    name: "missing Logging/Prefix",
    parse: parse20,
    body: cfg("<Prefix>rtmp/</Prefix>", ""),
    code: "MalformedInput",
    text: "Logging/Prefix",
  },
  {
    name: "unknown element",
    parse: parse20,
    body: cfg("<PriceClass>", "<Foo/><PriceClass>"),
    code: "MalformedInput",
    text: "Unexpected element StreamingDistributionConfig/Foo",
  },
  {
    name: "duplicate element",
    parse: parse20,
    body: cfg("<PriceClass>", "<Comment/><PriceClass>"),
    code: "MalformedInput",
    text: "StreamingDistributionConfig/Comment appears more than once",
  },
  {
    name: "very long element name",
    parse: parse20,
    body: cfg("<PriceClass>", `<${"N".repeat(5000)}/><PriceClass>`),
    code: "MalformedInput",
    text: "5000-character name in StreamingDistributionConfig",
  },
  {
    name: "text in a structure",
    parse: parse20,
    body: cfg("<S3Origin>", "<S3Origin>x"),
    code: "MalformedInput",
    text: "S3Origin must contain elements",
  },
  {
    name: "elements in a leaf",
    parse: parse20,
    body: cfg("<Comment>", "<Comment><b/>"),
    code: "MalformedInput",
    text: "Comment must contain text",
  },
  {
    name: "wrong list item",
    parse: parse20,
    body: cfg("<CNAME>video.example.com</CNAME>", "<Alias>video.example.com</Alias>"),
    code: "MalformedInput",
    text: "expected CNAME",
  },
  {
    name: "text in Items",
    parse: parse20,
    body: cfg("<Items><CNAME>video", "<Items>x<CNAME>video"),
    code: "MalformedInput",
    text: "must contain CNAME elements",
  },
  {
    name: "missing Tags in config-with-tags",
    parse: xml2020.parseStreamingDistributionConfigWithTags,
    body: withTags2020.replace(tagsXml, ""),
    code: "MalformedInput",
    text: "StreamingDistributionConfigWithTags/Tags",
  },
  {
    name: "Tag without Key",
    parse: parseTags20,
    body: tagsBody(["<Tag><Value>v</Value></Tag>"]),
    code: "MalformedInput",
    text: "Tags/Items/Tag/Key",
  },
  {
    name: "2009 missing Origin",
    parse: xml2009.parseStreamingDistributionConfig,
    body: config2009.replace("<Origin>mybucket.s3.amazonaws.com</Origin>", ""),
    code: "MalformedInput",
    text: "StreamingDistributionConfig/Origin",
  },
  {
    name: "2009 S3Origin is unknown",
    parse: xml2009.parseStreamingDistributionConfig,
    body: config2009.replace("<Comment>", "<S3Origin/><Comment>"),
    code: "MalformedInput",
    text: "Unexpected element StreamingDistributionConfig/S3Origin",
  },
  // Quantities
  {
    name: "Aliases quantity too high",
    parse: parse20,
    body: cfg("<Quantity>2</Quantity><Items><CNAME>", "<Quantity>3</Quantity><Items><CNAME>"),
    code: "InconsistentQuantities",
    text: "Aliases/Quantity (3)",
  },
  {
    name: "Aliases quantity without Items",
    parse: parse20,
    body: cfg("<Items><CNAME>video.example.com</CNAME><CNAME>live.example.com</CNAME></Items>", ""),
    code: "InconsistentQuantities",
    text: "(0)",
  },
  {
    name: "TrustedSigners quantity",
    parse: parse20,
    body: cfg(originalSigners, originalSigners.replace("<Quantity>2</Quantity>", "<Quantity>1</Quantity>")),
    code: "InconsistentQuantities",
    text: "TrustedSigners/Quantity (1)",
  },
  // Values
  {
    name: "Enabled yes",
    parse: parse20,
    body: cfg(
      "<Enabled>true</Enabled></StreamingDistributionConfig>",
      "<Enabled>yes</Enabled></StreamingDistributionConfig>",
    ),
    code: "InvalidArgument",
    text: 'Invalid value "yes" for StreamingDistributionConfig/Enabled',
  },
  {
    name: "Quantity x",
    parse: parse20,
    body: cfg("<Quantity>2</Quantity><Items><CNAME>", "<Quantity>x</Quantity><Items><CNAME>"),
    code: "InvalidArgument",
    text: 'Invalid value "x" for StreamingDistributionConfig/Aliases/Quantity',
  },
  {
    name: "negative Quantity",
    parse: parse20,
    body: cfg("<Quantity>2</Quantity><Items><CNAME>", "<Quantity>-2</Quantity><Items><CNAME>"),
    code: "InvalidArgument",
    text: "non-negative integer",
  },
  {
    name: "Logging/Enabled maybe",
    parse: parse20,
    body: cfg("<Logging><Enabled>true</Enabled>", "<Logging><Enabled>maybe</Enabled>"),
    code: "InvalidArgument",
    text: "Logging/Enabled",
  },
  {
    name: "text over the reader bound",
    parse: parse20,
    body: cfg("<Comment>my &lt;streams&gt; &amp; more</Comment>", `<Comment>${"x".repeat(5000)}</Comment>`),
    code: "InvalidArgument",
    text: "too long",
  },
  {
    name: "empty CallerReference",
    parse: parse20,
    body: cfg("<CallerReference>ref-1</CallerReference>", "<CallerReference> </CallerReference>"),
    code: "InvalidArgument",
    text: "CallerReference must not be empty",
  },
  {
    name: "long CallerReference (bytes)",
    parse: parse20,
    body: cfg(
      "<CallerReference>ref-1</CallerReference>",
      `<CallerReference>${"é".repeat(65)}</CallerReference>`,
    ),
    code: "InvalidArgument",
    text: "130 bytes",
  },
  {
    name: "long Comment",
    parse: parse20,
    body: cfg("<Comment>my &lt;streams&gt; &amp; more</Comment>", `<Comment>${"c".repeat(129)}</Comment>`),
    code: "InvalidArgument",
    text: "comment is too long",
  },
  {
    name: "bad CNAME",
    parse: parse20,
    body: cfg("<CNAME>live.example.com</CNAME>", "<CNAME>live_example..com</CNAME>"),
    code: "InvalidArgument",
    text: "not a valid host name",
  },
  {
    name: "IPv4 address as CNAME",
    parse: parse20,
    body: cfg("<CNAME>live.example.com</CNAME>", "<CNAME>127.0.0.1</CNAME>"),
    code: "InvalidArgument",
    text: "is an IP address",
  },
  {
    name: "IPv6 address as CNAME",
    parse: parse20,
    body: cfg("<CNAME>live.example.com</CNAME>", "<CNAME>::1</CNAME>"),
    code: "InvalidArgument",
    text: "is an IP address",
  },
  {
    name: "bracketed IPv6 address as CNAME",
    parse: parse20,
    body: cfg("<CNAME>live.example.com</CNAME>", "<CNAME>[::1]</CNAME>"),
    code: "InvalidArgument",
    text: "is an IP address",
  },
  {
    name: "all-digit last label",
    parse: parse20,
    body: cfg("<CNAME>live.example.com</CNAME>", "<CNAME>video.123</CNAME>"),
    code: "InvalidArgument",
    text: "last label is all digits",
  },
  {
    name: "wildcard in the middle",
    parse: parse20,
    body: cfg("<CNAME>live.example.com</CNAME>", "<CNAME>a.*.com</CNAME>"),
    code: "InvalidArgument",
    text: "one leading",
  },
  {
    name: "wildcard as part of a label",
    parse: parse20,
    body: cfg("<CNAME>live.example.com</CNAME>", "<CNAME>*foo.com</CNAME>"),
    code: "InvalidArgument",
    text: "one leading",
  },
  {
    name: "double wildcard",
    parse: parse20,
    body: cfg("<CNAME>live.example.com</CNAME>", "<CNAME>**.x</CNAME>"),
    code: "InvalidArgument",
    text: "one leading",
  },
  {
    name: "two wildcards",
    parse: parse20,
    body: cfg("<CNAME>live.example.com</CNAME>", "<CNAME>*.*.example.com</CNAME>"),
    code: "InvalidArgument",
    text: "one leading",
  },
  {
    name: "bare wildcard",
    parse: parse20,
    body: cfg("<CNAME>live.example.com</CNAME>", "<CNAME>*</CNAME>"),
    code: "InvalidArgument",
    text: "needs a domain",
  },
  {
    name: "duplicate CNAME",
    parse: parse20,
    body: cfg("<CNAME>live.example.com</CNAME>", "<CNAME>VIDEO.example.com</CNAME>"),
    code: "InvalidArgument",
    text: "more than once",
  },
  {
    name: "bad logging bucket",
    parse: parse20,
    body: cfg("<Bucket>mylogs.s3.amazonaws.com</Bucket>", "<Bucket>mylogs</Bucket>"),
    code: "InvalidArgument",
    text: "logging bucket",
  },
  {
    name: "long logging prefix",
    parse: parse20,
    body: cfg("<Prefix>rtmp/</Prefix>", `<Prefix>${"p".repeat(257)}</Prefix>`),
    code: "InvalidArgument",
    text: "prefix is too long",
  },
  {
    name: "bad signer",
    parse: parse20,
    body: cfg(originalSigners, signers(["self", "12345"])),
    code: "InvalidArgument",
    text: '"12345" is not "self" or a 12-digit',
  },
  {
    name: "duplicate signer",
    parse: parse20,
    body: cfg(originalSigners, signers(["self", "self"])),
    code: "InvalidArgument",
    text: "more than once",
  },
  {
    name: "signers enabled with none",
    parse: parse20,
    body: cfg(originalSigners, signers([])),
    code: "InvalidArgument",
    text: "lists no signer",
  },
  {
    name: "bad PriceClass",
    parse: parse20,
    body: cfg("PriceClass_100", "PriceClass_50"),
    code: "InvalidArgument",
    text: '"PriceClass_50"',
  },
  {
    name: "2009 Enabled yes",
    parse: xml2009.parseStreamingDistributionConfig,
    body: config2009.replace("<Enabled>true</Enabled>", "<Enabled>yes</Enabled>"),
    code: "InvalidArgument",
    text: "StreamingDistributionConfig/Enabled",
  },
  // Origin and access identity
  {
    name: "path-style origin",
    parse: parse20,
    body: cfg(
      "<DomainName>media.s3.amazonaws.com</DomainName>",
      "<DomainName>s3.amazonaws.com/media</DomainName>",
    ),
    code: "InvalidOrigin",
    text: "s3.amazonaws.com/media",
  },
  {
    name: "custom origin",
    parse: parse20,
    body: cfg("<DomainName>media.s3.amazonaws.com</DomainName>", "<DomainName>www.example.com</DomainName>"),
    code: "InvalidOrigin",
    text: "not an Amazon S3 bucket",
  },
  {
    name: "website endpoint",
    parse: parse20,
    body: cfg(
      "<DomainName>media.s3.amazonaws.com</DomainName>",
      "<DomainName>media.s3-website-us-east-1.amazonaws.com</DomainName>",
    ),
    code: "InvalidOrigin",
    text: "not an Amazon S3 bucket",
  },
  {
    name: "accelerate endpoint",
    parse: parse20,
    body: cfg(
      "<DomainName>media.s3.amazonaws.com</DomainName>",
      "<DomainName>media.s3-accelerate.amazonaws.com</DomainName>",
    ),
    code: "InvalidOrigin",
    text: "not an Amazon S3 bucket",
  },
  {
    name: "bucket not DNS-compatible",
    parse: parse20,
    body: cfg(
      "<DomainName>media.s3.amazonaws.com</DomainName>",
      "<DomainName>my_bucket.s3.amazonaws.com</DomainName>",
    ),
    code: "InvalidOrigin",
    text: "my_bucket",
  },
  {
    name: "2009 bad origin",
    parse: xml2009.parseStreamingDistributionConfig,
    body: config2009.replace("mybucket.s3.amazonaws.com", "mybucket"),
    code: "InvalidOrigin",
    text: '"mybucket"',
  },
  {
    name: "bad OAI",
    parse: parse20,
    body: cfg("origin-access-identity/cloudfront/E74FTE3AEXAMPLE", "E74FTE3AEXAMPLE"),
    code: "InvalidOriginAccessIdentity",
    text: "origin-access-identity/cloudfront/<ID>",
  },
  // Quotas
  {
    name: "11 CNAMEs",
    parse: parse20,
    body: cfg(
      "<Aliases><Quantity>2</Quantity><Items><CNAME>video.example.com</CNAME><CNAME>live.example.com</CNAME></Items></Aliases>",
      `<Aliases><Quantity>11</Quantity><Items>${Array.from({ length: 11 }, (_, i) => `<CNAME>c${i}.example.com</CNAME>`).join("")}</Items></Aliases>`,
    ),
    code: "TooManyStreamingDistributionCNAMEs",
    text: "(11)",
  },
  {
    name: "2009 over a lower CNAME quota",
    parse: xml2009.parseStreamingDistributionConfig,
    body: config2009,
    options: { limits: { maxCnames: 1 } },
    code: "TooManyStreamingDistributionCNAMEs",
    text: "(1)",
  },
  {
    name: "6 signers",
    parse: parse20,
    body: cfg(
      originalSigners,
      signers(["self", "111111111111", "222222222222", "333333333333", "444444444444", "555555555555"]),
    ),
    code: "TooManyTrustedSigners",
    text: "(6)",
  },
  {
    name: "unknown signer account",
    parse: parse20,
    body: config2020,
    options: { limits: { knownSignerAccounts: new Set(["999999999999"]) } },
    code: "TrustedSignerDoesNotExist",
    text: "111122223333",
  },
  // Tags
  {
    name: "empty tag key",
    parse: parseTags20,
    body: tagsBody([tag("")]),
    code: "InvalidTagging",
    text: "1 to 128",
  },
  {
    name: "long tag key",
    parse: parseTags20,
    body: tagsBody([tag("k".repeat(129))]),
    code: "InvalidTagging",
    text: "1 to 128",
  },
  {
    name: "tag key characters",
    parse: parseTags20,
    body: tagsBody([tag("a*b")]),
    code: "InvalidTagging",
    text: "may contain only",
  },
  {
    name: "aws: prefix",
    parse: parseTags20,
    body: tagsBody([tag("AWS:x", "v")]),
    code: "InvalidTagging",
    text: "reserved",
  },
  {
    name: "repeated tag key",
    parse: parseTags20,
    body: tagsBody([tag("a", "1"), tag("a", "2")]),
    code: "InvalidTagging",
    text: "more than once",
  },
  {
    name: "long tag value",
    parse: parseTags20,
    body: tagsBody([tag("a", "v".repeat(257))]),
    code: "InvalidTagging",
    text: "too long",
  },
  {
    name: "tag value characters",
    parse: parseTags20,
    body: tagsBody([tag("a", "x;y")]),
    code: "InvalidTagging",
    text: "may contain only",
  },
  {
    name: "51 tags",
    parse: parseTags20,
    body: tagsBody(Array.from({ length: 51 }, (_, i) => tag(`k${i}`, "v"))),
    code: "InvalidTagging",
    text: "Too many tags (51",
  },
  {
    name: "bad key to untag",
    parse: xml2020.parseTagKeys,
    body: "<TagKeys><Items><Key>a|b</Key></Items></TagKeys>",
    code: "InvalidTagging",
    text: "may contain only",
  },
  {
    name: "too many keys to untag",
    parse: xml2020.parseTagKeys,
    body: `<TagKeys><Items>${"<Key>a</Key>".repeat(51)}</Items></TagKeys>`,
    code: "InvalidTagging",
    text: "Too many tag keys",
  },
  {
    name: "bad tag in config-with-tags",
    parse: xml2020.parseStreamingDistributionConfigWithTags,
    body: withTags2020.replace("<Key>team</Key>", "<Key>te#am</Key>"),
    code: "InvalidTagging",
    text: "te#am",
  },
  // Tagging in 2009
  {
    name: "2009 tagging",
    parse: xml2009.parseTags,
    body: tagsXml,
    code: "InvalidAction",
    text: "2016-08-01",
  },
];

describe("request errors", () => {
  for (const c of errorCases) {
    it(`${c.name} → ${c.code}`, () => {
      const body = typeof c.body === "string" ? bytes(c.body) : c.body;
      assertApiError(() => c.parse(body, c.options), c.code, c.text);
    });
  }

  it("covers every code the body parsers can produce", () => {
    const covered = new Set(errorCases.map((c) => c.code));
    const parserCodes: readonly ApiErrorCode[] = [
      "EntityTooLarge",
      "MissingBody",
      "MalformedXML",
      "MalformedInput",
      "InappropriateXML",
      "InconsistentQuantities",
      "InvalidArgument",
      "InvalidOrigin",
      "InvalidOriginAccessIdentity",
      "TooManyStreamingDistributionCNAMEs",
      "TooManyTrustedSigners",
      "TrustedSignerDoesNotExist",
      "InvalidTagging",
      "InvalidAction",
    ];
    assert.deepEqual([...covered].sort(), [...parserCodes].sort());
  });

  it("accepts a body of exactly maxBodyBytes and the documented origin forms", () => {
    const body = bytes(config2020);
    assert.equal(
      xml2020.parseStreamingDistributionConfig(body, { maxBodyBytes: body.length }).originBucket,
      "media",
    );
    assert.deepEqual(parseS3Origin("my.dotted-bucket.s3.amazonaws.com"), {
      domainName: "my.dotted-bucket.s3.amazonaws.com",
      bucket: "my.dotted-bucket",
    });
    assert.equal(parseS3Origin("media.s3.us-gov-west-1.amazonaws.com")?.bucket, "media");
    assert.equal(parseS3Origin("media.s3-ap-southeast-2.amazonaws.com")?.bucket, "media");
    for (const bad of [
      "s3.amazonaws.com",
      "ab.s3.amazonaws.com",
      "192.168.1.1.s3.amazonaws.com",
      "a..b.s3.amazonaws.com",
      "media.s3.amazonaws.com.evil.com",
      "-media.s3.amazonaws.com",
    ]) {
      assert.equal(parseS3Origin(bad), undefined, bad);
    }
  });

  it("accepts tag text in any script, with spaces and the allowed punctuation", () => {
    assert.deepEqual(xml2020.parseTags(bytes(tagsBody([tag("名前 _.:/=+-@", "値 ünï 123")]))), [
      { key: "名前 _.:/=+-@", value: "値 ünï 123" },
    ]);
  });

  it("takes up to maxElements elements and maxDepth nesting", () => {
    const fifty = tagsBody(Array.from({ length: 50 }, (_, i) => tag(`k${i}`, "v")));
    assert.equal(xml2020.parseTags(bytes(fifty)).length, 50);
    const deep = `${"<a>".repeat(xmlInputLimits.maxDepth)}${"</a>".repeat(xmlInputLimits.maxDepth)}`;
    assert.equal(readXmlDocument(bytes(deep)).name, "a");
  });
});

describe("model helpers", () => {
  const config = xml2020.parseStreamingDistributionConfig(bytes(config2020));

  it("toDistributionInput maps every field", () => {
    const tags = [{ key: "a", value: "b" }];
    assert.deepEqual(toDistributionInput(config, tags), {
      originBucket: "media",
      originDomainName: "media.s3.amazonaws.com",
      originAccessIdentity: "origin-access-identity/cloudfront/E74FTE3AEXAMPLE",
      cnames: ["video.example.com", "live.example.com"],
      enabled: true,
      kind: "streaming",
      callerReference: "ref-1",
      comment: "my <streams> & more",
      logging: { enabled: true, bucket: "mylogs.s3.amazonaws.com", prefix: "rtmp/" },
      trustedSigners: { enabled: true, accounts: ["self", "111122223333"] },
      priceClass: "PriceClass_100",
      tags,
    });
  });

  it("configFromDistribution gives back the config; a distribution made without the API gets an origin", () => {
    assert.deepEqual(configFromDistribution(distributionFrom(config)), config);
    const plain = newDistribution({ originBucket: "demo" }, { baseDomain: "x.test", now });
    assert.equal(configFromDistribution(plain).originDomainName, "demo.s3.amazonaws.com");
  });

  it("configsEqual ignores whitespace, CNAME and signer order, and the API shape", () => {
    const pretty = xml2020.parseStreamingDistributionConfig(
      bytes(
        config2020
          .replace("<CallerReference>ref-1", "<CallerReference>\n  ref-1\n")
          .replace(
            "<CNAME>video.example.com</CNAME><CNAME>live.example.com</CNAME>",
            "<CNAME>LIVE.example.com</CNAME>\n<CNAME>video.example.com</CNAME>",
          )
          .replace(
            "<AwsAccountNumber>self</AwsAccountNumber><AwsAccountNumber>111122223333</AwsAccountNumber>",
            "<AwsAccountNumber>111122223333</AwsAccountNumber><AwsAccountNumber> self </AwsAccountNumber>",
          ),
      ),
    );
    assert.ok(configsEqual(config, pretty));
    assert.ok(!configsEqual(config, { ...config, enabled: false }));
    assert.ok(!configsEqual(config, { ...config, comment: "other" }));
    assert.ok(!configsEqual(config, { ...config, aliases: ["video.example.com"] }));
    assert.ok(!configsEqual(config, { ...config, priceClass: "PriceClass_All" }));
    const old = xml2009.parseStreamingDistributionConfig(bytes(config2009));
    assert.ok(configsEqual(old, configFromDistribution(distributionFrom(old))));
  });

  it("tagsEqual compares as sets of pairs", () => {
    assert.ok(
      tagsEqual(
        [
          { key: "a", value: "1" },
          { key: "b", value: "" },
        ],
        [
          { key: "b", value: "" },
          { key: "a", value: "1" },
        ],
      ),
    );
    assert.ok(!tagsEqual([{ key: "a", value: "1" }], [{ key: "a", value: "2" }]));
    assert.ok(!tagsEqual([{ key: "a", value: "1" }], []));
  });

  it("checkUpdate refuses a new origin or CallerReference (IllegalUpdate)", () => {
    const d = distributionFrom(config);
    checkUpdate(d, config);
    checkUpdate(d, { ...config, comment: "new", aliases: [] });
    assertApiError(
      () => checkUpdate(d, { ...config, callerReference: "ref-2" }),
      "IllegalUpdate",
      "cannot be updated",
    );
    const other = xml2020.parseStreamingDistributionConfig(bytes(config2020.replace("media.s3", "other.s3")));
    assertApiError(() => checkUpdate(d, other), "IllegalUpdate");
    const plain = newDistribution(
      { originBucket: "media", callerReference: "ref-1" },
      { baseDomain: "x.test", now },
    );
    checkUpdate(plain, config);
  });

  it("ARNs: builds ours and reads tagging Resource parameters", () => {
    assert.equal(
      streamingDistributionArn("123456789012", "EABC"),
      "arn:aws:cloudfront::123456789012:streaming-distribution/EABC",
    );
    assert.equal(
      parseStreamingDistributionArn(
        "arn:aws:cloudfront::123456789012:streaming-distribution/EABC",
        "123456789012",
      ),
      "EABC",
    );
    assertApiError(
      () => parseStreamingDistributionArn("arn:aws:s3:::bucket", "123456789012"),
      "InvalidArgument",
    );
    assertApiError(() => parseStreamingDistributionArn("nonsense", "123456789012"), "InvalidArgument");
    assertApiError(
      () =>
        parseStreamingDistributionArn(
          "arn:aws:cloudfront::999999999999:streaming-distribution/EABC",
          "123456789012",
        ),
      "AccessDenied",
    );
    // Another account's ARN is AccessDenied whatever the resource, as AWS answers cross-account requests.
    assertApiError(
      () =>
        parseStreamingDistributionArn("arn:aws:cloudfront::999999999999:distribution/EABC", "123456789012"),
      "AccessDenied",
    );
    assertApiError(
      () =>
        parseStreamingDistributionArn("arn:aws:cloudfront::123456789012:distribution/EABC", "123456789012"),
      "NoSuchResource",
    );
  });

  it("list parameters: defaults, echo, and InvalidArgument", () => {
    assert.deepEqual(parseListParameters(undefined, undefined), { marker: "", maxItems: 100 });
    assert.deepEqual(parseListParameters("EABC", "5"), { marker: "EABC", maxItems: 5 });
    for (const bad of ["0", "-1", "x", "1001", "1.5", "99999"])
      assertApiError(() => parseListParameters("", bad), "InvalidArgument");
    assertApiError(() => parseListParameters("<x>", "1"), "InvalidArgument", "marker");
  });
});

describe("errors", () => {
  it("renders ErrorResponse with Sender for 4xx and Receiver for 5xx, escaped", () => {
    assert.equal(
      renderError(new ApiError("CNAMEAlreadyExists", 'a <b> & "c"'), "req-1", "2020-05-31"),
      `<?xml version="1.0" encoding="UTF-8"?><ErrorResponse xmlns="${ns2020}"><Error><Type>Sender</Type><Code>CNAMEAlreadyExists</Code>` +
        "<Message>a &lt;b&gt; &amp; &quot;c&quot;</Message></Error><RequestId>req-1</RequestId></ErrorResponse>",
    );
    const receiver = renderError(new ApiError("ServiceUnavailable", "later"), "r", "2009-12-01");
    assert.ok(receiver.includes(`xmlns="${ns2009}"`) && receiver.includes("<Type>Receiver</Type>"));
  });

  it("falls back to the latest namespace for an unusable version", () => {
    const xml = renderError(new ApiError("InvalidURI", "Could not parse the specified URI."), "r", '"><x/>');
    assert.ok(xml.includes(`<ErrorResponse xmlns="${ns2020}">`));
  });

  it("maps controller errors and hides unknown ones", () => {
    const mapped = toApiError(new ControllerError(ControllerErrorCode.CnameInUse, "CNAME x is in use"));
    assert.equal(mapped.code, "CNAMEAlreadyExists");
    assert.equal(mapped.message, "CNAME x is in use");
    assert.equal(
      toApiError(new ControllerError(ControllerErrorCode.StoreUnavailable, "redis at 10.0.0.1 down")).code,
      "ServiceUnavailable",
    );
    assert.ok(
      !toApiError(
        new ControllerError(ControllerErrorCode.StoreUnavailable, "redis at 10.0.0.1 down"),
      ).message.includes("10.0.0.1"),
    );
    const hidden = toApiError(new TypeError("secret detail"));
    assert.equal(hidden.code, "InternalError");
    assert.equal(hidden.httpStatus, 500);
    assert.ok(!hidden.message.includes("secret"));
    const same = new ApiError("AccessDenied", "no");
    assert.equal(toApiError(same), same);
  });

  it("escapes text so nothing can break out of an element", () => {
    assert.equal(escapeXmlText('a&b<c>d"e\r\u0001\uD800'), "a&amp;b&lt;c&gt;d&quot;e&#13;\uFFFD\uFFFD");
  });
});

describe("codec objects", () => {
  it("have the same members in both versions", () => {
    const members = (c: StreamingXmlCodec) => Object.keys(c).sort();
    assert.deepEqual(members(xml2009.codec2009), members(xml2020.codec2020));
  });
});
