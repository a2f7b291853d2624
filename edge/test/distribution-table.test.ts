import assert from "node:assert/strict";
import { test } from "node:test";
import type { Distribution } from "../../proto/gen/streamfront/controller/v1/controller.js";
import { DistributionTable, LookupFailure, lookupFailureDetail } from "../src/routing/distribution-table.js";

function distribution(overrides: Partial<Distribution>): Distribution {
  return {
    id: "E1",
    domainName: "s1.example.com",
    cnames: [],
    originBucket: "media",
    enabled: true,
    kind: 1,
    trustedSigners: undefined,
    logging: undefined,
    ...overrides,
  };
}

test("domain names and CNAMEs both resolve, case-insensitively", () => {
  const a = distribution({ id: "EA", domainName: "sabc.example.com", cnames: ["Video.Example.org"] });
  const b = distribution({ id: "EB", domainName: "sdef.example.com" });
  const table = new DistributionTable([a, b]);
  assert.equal(table.lookup("SABC.example.com"), a);
  assert.equal(table.lookup("video.example.org"), a);
  assert.equal(table.lookup("sdef.example.com"), b);
  assert.equal(table.lookup("nope.example.com"), LookupFailure.DistributionNotFound);
});

test("web distributions and disabled ones are refused with their own reasons", () => {
  const web = distribution({ id: "EW", domainName: "d111.example.com", kind: 2 });
  const off = distribution({ id: "EO", domainName: "soff.example.com", enabled: false });
  const table = new DistributionTable([web, off]);
  assert.equal(table.lookup("d111.example.com"), LookupFailure.DistributionTypeMismatch);
  assert.equal(table.lookup("soff.example.com"), LookupFailure.DistributionDisabled);
});

test("a wildcard CNAME matches any host below its domain, not the domain itself; exact names and longer wildcards win", () => {
  const wild = distribution({ id: "EW", domainName: "sw.test", cnames: ["*.example.com"] });
  const exact = distribution({ id: "EX", domainName: "sx.test", cnames: ["www.example.com"] });
  const deeper = distribution({ id: "ED", domainName: "sd.test", cnames: ["*.eu.example.com"] });
  const table = new DistributionTable([wild, exact, deeper]);
  assert.equal(table.lookup("a.example.com"), wild);
  assert.equal(table.lookup("A.b.Example.COM"), wild, "any depth, any case");
  assert.equal(table.lookup("www.example.com"), exact, "an exact CNAME wins over the wildcard");
  assert.equal(table.lookup("cdn.eu.example.com"), deeper, "the longer wildcard wins");
  assert.equal(table.lookup("x.cdn.eu.example.com"), deeper);
  assert.equal(table.lookup("eu.example.com"), wild, "*.eu.example.com does not match eu.example.com");
  assert.equal(table.lookup("example.com"), LookupFailure.DistributionNotFound);
  assert.equal(table.lookup("a.example.org"), LookupFailure.DistributionNotFound);
  assert.equal(table.lookup("aexample.com"), LookupFailure.DistributionNotFound);
  assert.equal(
    table.lookup(`${"a.".repeat(130)}example.com`),
    LookupFailure.DistributionNotFound,
    "over 253",
  );
});

test("a disabled distribution found by wildcard is refused as disabled; the viewer is told so", () => {
  const off = distribution({ id: "EO", domainName: "soff.test", cnames: ["*.off.example"], enabled: false });
  const table = new DistributionTable([off]);
  assert.equal(table.lookup("a.off.example"), LookupFailure.DistributionDisabled);
  assert.equal(
    lookupFailureDetail(LookupFailure.DistributionDisabled, "a.off.example"),
    "the streaming distribution for a.off.example is disabled",
  );
  assert.match(
    lookupFailureDetail(LookupFailure.DistributionNotFound, "x.test"),
    /no streaming distribution/,
  );
  assert.match(lookupFailureDetail(LookupFailure.DistributionTypeMismatch, "x.test"), /web distribution/);
});
