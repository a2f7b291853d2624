import assert from "node:assert/strict";
import { test } from "node:test";
import { measureSignedUrlCost, reportSignedUrlCost } from "../src/edge/signed-url-cost.js";

// The measurement itself, small: every signed name it makes must pass the edge's gate (it throws on a
// refusal), and the report has one row per play event measured. Its figures are the benchmark's, not a test's.
test("bench:edge's signed-URL cost measures names the gate accepts and reports four play events", () => {
  const cost = measureSignedUrlCost(5, 1);
  assert.equal(cost.names, 5);
  assert.equal(cost.keyBits, 2048);
  for (const micros of [cost.cannedColdMicros, cost.customColdMicros, cost.cachedMicros, cost.publicMicros]) {
    assert.ok(Number.isFinite(micros) && micros > 0, String(micros));
  }
  const lines = reportSignedUrlCost(cost).join("\n");
  for (const row of [
    "first play, canned policy",
    "first play, custom policy with IP",
    "verdict cached",
    "public distribution",
  ]) {
    assert.match(lines, new RegExp(row));
  }
});
