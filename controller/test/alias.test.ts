import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { aliasProblem } from "../src/alias.js";
import { loadControllerConfig } from "../src/config.js";
import { checkDistribution, newDistribution } from "../src/distribution.js";

/**
 * One rule for CNAMEs (alias.ts), held by the API, the stores' model and
 * the demo-cname setting alike. The API's side is in api-xml.test.ts (its
 * table of refusals) and api-hardening.system.test.ts (through the SDK).
 */
describe("aliasProblem", () => {
  it("accepts host names of one or more labels and one leading wildcard label", () => {
    for (const alias of [
      "localhost",
      "mediabox",
      "video.example.com",
      "a-b.c-d.example",
      "*.example.com",
      "*.localhost",
      "x1.y2.z3a",
      `${"a".repeat(63)}.example.com`,
    ]) {
      assert.equal(aliasProblem(alias), undefined, alias);
    }
  });

  it("refuses IP addresses, misplaced wildcards and malformed labels, saying why", () => {
    const refused: [string, RegExp][] = [
      ["127.0.0.1", /IP address/],
      ["10.1.2.3", /IP address/],
      ["::1", /IP address/],
      ["[::1]", /IP address/],
      ["2001:db8::1", /IP address/],
      ["1.2.3", /last label is all digits/],
      ["video.123", /last label is all digits/],
      ["a.*.com", /one leading/],
      ["*foo.com", /one leading/],
      ["**.x", /one leading/],
      ["*.*.example.com", /one leading/],
      ["*", /needs a domain/],
      ["*.", /label/],
      ["", /empty/],
      ["example..com", /label/],
      ["example.com.", /label/],
      ["-a.example.com", /label/],
      ["a_b.example.com", /label/],
      [`${"a".repeat(64)}.example.com`, /label/],
      [`${"a.".repeat(127)}ab`, /longer than 253/],
    ];
    for (const [alias, reason] of refused) {
      assert.match(aliasProblem(alias) ?? "accepted", reason, alias);
    }
  });

  it("is what the model every store checks applies", () => {
    const make = (cnames: string[]) =>
      newDistribution({ originBucket: "media", cnames }, { baseDomain: "streamfront.local", now: 0 });
    assert.deepEqual(make(["LocalHost", "*.Example.com"]).cnames, ["localhost", "*.example.com"]);
    assert.throws(() => make(["127.0.0.1"]), /IP address/);
    assert.throws(() => checkDistribution({ ...make([]), cnames: ["a.*.com"] }), /one leading/);
  });

  it("is what the demo-cname setting applies: an IP address is refused at start-up, naming the setting", () => {
    const load = (cname: string) =>
      loadControllerConfig({ env: { STREAMFRONT_CONTROLLER_DEMO_CNAME: cname }, argv: [] });
    assert.equal(load("localhost").demoCname, "localhost");
    assert.equal(load("*.Media.example").demoCname, "*.Media.example");
    assert.throws(
      () => load("127.0.0.1"),
      /STREAMFRONT_CONTROLLER_DEMO_CNAME.*IP address|demo-cname.*IP address/s,
    );
    assert.throws(() => load("a.*.b"), /one leading/);
  });
});
