import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Registry } from "prom-client";
import { EdgeMetrics } from "../src/metrics.js";
import { PlayResult, Rejection } from "../src/vocabulary.js";

/** The samples of `name` in the registry's text, as "labels value" lines. */
async function series(registry: Registry, name: string): Promise<string[]> {
  const text = await registry.metrics();
  return text
    .split("\n")
    .filter((l) => l.startsWith(`${name}{`))
    .map((l) => l.slice(name.length));
}

function table(...ids: string[]): ReadonlyMap<string, unknown> {
  return new Map(ids.map((id) => [id, {}]));
}

describe("EdgeMetrics: the distribution label", () => {
  it("gives the table's first max-distribution-labels ids their own value; the rest share other", async () => {
    const registry = new Registry();
    const metrics = new EdgeMetrics(registry, 2);
    let current = table("EAAA", "EBBB", "ECCC");
    metrics.distributions.syncOnScrape(() => current);
    metrics.distributions.sync(current);
    for (const id of ["EAAA", "EBBB", "ECCC"]) {
      metrics.countPlay(metrics.distributions.cell(id), "flv", PlayResult.Started);
    }
    assert.deepEqual((await series(registry, "streamfront_edge_plays_total")).sort(), [
      '{distribution="EAAA",container="flv",result="started"} 1',
      '{distribution="EBBB",container="flv",result="started"} 1',
      '{distribution="other",container="flv",result="started"} 1',
    ]);
    assert.deepEqual(await series(registry, "streamfront_edge_distribution_labels"), []);
    assert.match(await registry.metrics(), /^streamfront_edge_distribution_labels 2$/m);
    // EAAA deleted: its label goes at the next scrape, and ECCC (next in the table) gets one.
    current = table("EBBB", "ECCC");
    assert.deepEqual((await series(registry, "streamfront_edge_plays_total")).sort(), [
      '{distribution="EBBB",container="flv",result="started"} 1',
      '{distribution="other",container="flv",result="started"} 1',
    ]);
    assert.equal(metrics.distributions.cell("ECCC").label, "ECCC");
  });

  it("keeps a deleted distribution's series while a connection still counts against it, then removes them all", async () => {
    const registry = new Registry();
    const metrics = new EdgeMetrics(registry);
    let current = table("EAAA");
    metrics.distributions.syncOnScrape(() => current);
    const cell = metrics.distributions.cell("EAAA");
    assert.equal(cell.label, "other", "not in a synced table yet");
    metrics.distributions.sync(current);
    const a = metrics.distributions.cell("EAAA");
    metrics.distributions.attach(a);
    a.egress.rtmp += 1000;
    a.viewers.rtmp += 1;
    metrics.observeFirstFrame(a, "flv", 0.2);
    metrics.countPlayFailure(a, "EDGE_ERR_SHIELD_UNAVAILABLE");
    metrics.countRejection(Rejection.DistributionDisabled, a);
    current = table();
    const text = await registry.metrics();
    assert.match(text, /^streamfront_edge_viewers\{distribution="EAAA",protocol="rtmp"\} 1$/m);
    assert.match(text, /^streamfront_edge_egress_bytes_total\{distribution="EAAA",protocol="rtmp"\} 1000$/m);
    a.viewers.rtmp -= 1;
    metrics.distributions.detach(a);
    const after = await registry.metrics();
    assert.doesNotMatch(after, /distribution="EAAA"/);
    // "none" keeps its zero series per protocol, so sums by protocol always exist.
    assert.match(after, /^streamfront_edge_egress_bytes_total\{distribution="none",protocol="rtmpte"\} 0$/m);
    assert.match(
      after,
      /^streamfront_edge_rejections_total\{distribution="none",rejection="DistributionNotFound"\} 0$/m,
    );
  });
});
