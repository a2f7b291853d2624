import assert from "node:assert/strict";
import { test } from "node:test";
import type { Distribution } from "../../proto/gen/streamfront/controller/v1/controller.js";
import { DistributionTable, LookupFailure } from "../src/distribution-table.js";

function distribution(overrides: Partial<Distribution>): Distribution {
  return {
    id: "E1",
    domainName: "s1.example.com",
    cnames: [],
    originBucket: "media",
    enabled: true,
    kind: 1,
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
