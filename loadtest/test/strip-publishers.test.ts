import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { Script } from "node:vm";
import { stripPublishers } from "../src/trace/strip-publishers.js";

/** The baseline of `npm run bench:trace`: the compiled module with its publishers removed, and nothing else. */

test("guarded publish statements go, other code stays, a leftover guard reads false", () => {
  const js = [
    "const a = f(1);",
    "if (traces.x.hasSubscribers) traces.x.publish({ a, b: g(2), c: [3] });",
    "const t = traces.y.hasSubscribers ? now() : 0;",
    "if (traces.y.hasSubscribers)",
    "  traces.y.publish({",
    "    d: (1 + 2) * 3,",
    "  });",
    "if (traces.z.hasSubscribers) {",
    "  traces.z.publish({ e: 1 });",
    "}",
    "if (other(traces.x)) keep();",
    "return a;",
  ].join("\n");
  const { code, removed } = stripPublishers(js);
  assert.equal(removed, 3);
  assert.equal(
    code,
    [
      "const a = f(1);",
      "",
      "const t = false ? now() : 0;",
      "",
      "",
      "if (other(traces.x)) keep();",
      "return a;",
    ].join("\n"),
  );
});

test("the edge's compiled slice cache loses its four publishers and still parses", () => {
  const compiled = fileURLToPath(new URL("../../edge/src/edge-cache/slice-cache.js", import.meta.url));
  const { code, removed } = stripPublishers(readFileSync(compiled, "utf8"));
  assert.equal(removed, 4, "cache:lookup twice, cache:fetch twice");
  assert.ok(!code.includes("hasSubscribers") && !code.includes(".publish("));
  // Parsed, not run: the module's imports and exports aside, the body must still be valid JavaScript.
  const body = code.replace(/^import .*;$/gm, "").replace(/^export /gm, "");
  assert.doesNotThrow(() => new Script(body, { filename: "slice-cache.untraced.js" }));
});
