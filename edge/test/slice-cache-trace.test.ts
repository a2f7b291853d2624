import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { test } from "node:test";
import { TraceChannelName } from "../../lib/trace/channels.js";
import { SliceCache } from "../src/edge-cache/slice-cache.js";
import { EdgeError, EdgeErrorCode } from "../src/errors.js";

/**
 * The edge:cache trace events of the slice cache, with the shield replaced
 * by an in-memory fetch (a fake of the network, as slice-cache.test.ts
 * does; the failing one injects a fault and says so).
 */

const object = randomBytes(10_000);
const version = { bucket: "media", key: "videos/a.flv", etag: '"e1"', size: object.length };

test("a cold read: lookup misses then fetches in order; the same read again: hits, no fetch; concurrent reads collapse", async (t) => {
  const seen: string[] = [];
  const messages: Record<string, unknown>[] = [];
  const onLookup = (m: unknown) => {
    const message = m as { slice: number; outcome: string };
    seen.push(`lookup ${message.slice} ${message.outcome}`);
    messages.push(m as Record<string, unknown>);
  };
  const onFetch = (m: unknown) => {
    const message = m as { slice: number; code: string | null };
    seen.push(`fetch ${message.slice} ${message.code ?? "ok"}`);
    messages.push(m as Record<string, unknown>);
  };
  subscribe(TraceChannelName.EdgeCacheLookup, onLookup);
  subscribe(TraceChannelName.EdgeCacheFetch, onFetch);
  t.after(() => {
    unsubscribe(TraceChannelName.EdgeCacheLookup, onLookup);
    unsubscribe(TraceChannelName.EdgeCacheFetch, onFetch);
  });
  const cache = new SliceCache({ sliceBytes: 4096, maxBytes: 1 << 20 });
  const source = cache.source(version, async (offset, length) =>
    Buffer.from(object.subarray(offset, offset + length)),
  );
  await source.read(4000, 200); // slices 0 and 1
  assert.deepEqual(seen, ["lookup 0 miss", "lookup 1 miss", "fetch 0 ok", "fetch 1 ok"]);
  const fetch0 = messages[2]!;
  assert.deepEqual(
    { ...fetch0, durationMs: 0 },
    { bucket: "media", key: "videos/a.flv", slice: 0, offset: 0, bytes: 4096, durationMs: 0, code: null },
  );
  assert.ok((fetch0.durationMs as number) >= 0);
  assert.deepEqual(messages[0], { bucket: "media", key: "videos/a.flv", slice: 0, outcome: "miss" });
  seen.length = 0;
  await source.read(4000, 200);
  assert.deepEqual(seen, ["lookup 0 hit", "lookup 1 hit"]);
  seen.length = 0;
  await Promise.all([source.read(8192, 100), source.read(8300, 100)]);
  assert.deepEqual(seen, ["lookup 2 miss", "lookup 2 collapsed", "fetch 2 ok"]);
  assert.equal(messages.at(-1)!.bytes, object.length - 8192, "the last slice is short");
});

test("a fetch that fails carries its code, and the next read misses again", async (t) => {
  const seen: Record<string, unknown>[] = [];
  const onFetch = (m: unknown) => seen.push(m as Record<string, unknown>);
  subscribe(TraceChannelName.EdgeCacheFetch, onFetch);
  t.after(() => unsubscribe(TraceChannelName.EdgeCacheFetch, onFetch));
  const cache = new SliceCache({ sliceBytes: 4096, maxBytes: 1 << 20 });
  let fail = true;
  // Fault injected: the first fetch fails as a shield outage would.
  const source = cache.source(version, async (offset, length) => {
    if (fail) throw new EdgeError(EdgeErrorCode.ShieldUnavailable, "no shield answered");
    return Buffer.from(object.subarray(offset, offset + length));
  });
  await assert.rejects(source.read(0, 10), /no shield answered/);
  fail = false;
  await source.read(0, 10);
  assert.deepEqual(
    seen.map((m) => [m.slice, m.code]),
    [
      [0, EdgeErrorCode.ShieldUnavailable],
      [0, null],
    ],
  );
});
