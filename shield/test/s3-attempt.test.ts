import assert from "node:assert/strict";
import { once } from "node:events";
import { test } from "node:test";
import { Deadline } from "../src/s3/attempt-deadline.js";
import { parseContentRange, rangeHeader } from "../src/s3/content-range.js";
import { classify, OriginResult, TransportError } from "../src/s3/outcome.js";

test("Range and Content-Range: the header of a range, and the start and size of an answer", () => {
  assert.equal(rangeHeader(0, 1), "bytes=0-0");
  assert.equal(rangeHeader(100, 50), "bytes=100-149");
  assert.deepEqual(parseContentRange("bytes 5-9/1234"), { start: 5, size: 1234 });
  assert.deepEqual(parseContentRange(" bytes 0-0/1 "), { start: 0, size: 1 });
  for (const bad of [undefined, "", "bytes */1234", "bytes 5-9/*", "items 0-1/2", "bytes 5-9"])
    assert.equal(parseContentRange(bad), undefined, String(bad));
});

test("Deadline: the caller's abort passes through with its reason, and is not a timeout", () => {
  const caller = new AbortController();
  const deadline = new Deadline(caller.signal, 60_000);
  caller.abort(new Error("viewer left"));
  assert.equal(deadline.signal.aborted, true);
  assert.equal((deadline.signal.reason as Error).message, "viewer left");
  assert.equal(deadline.timedOut, false);
  deadline.dispose();
});

test("Deadline: an already aborted caller signal aborts at once", () => {
  const deadline = new Deadline(AbortSignal.abort(new Error("gone")), 60_000);
  assert.equal(deadline.signal.aborted, true);
  deadline.dispose();
});

test("Deadline: silence past timeoutMs aborts with an ETIMEDOUT TransportError, classified as a retryable timeout", async () => {
  const caller = new AbortController();
  const deadline = new Deadline(caller.signal, 5);
  await once(deadline.signal, "abort");
  assert.equal(deadline.timedOut, true);
  assert.equal(caller.signal.aborted, false, "the caller's own signal is untouched");
  const reason = deadline.signal.reason as TransportError;
  assert.ok(reason instanceof TransportError);
  assert.equal(reason.code, "ETIMEDOUT");
  const failure = classify(reason, deadline.timedOut);
  assert.equal(failure.result, OriginResult.Timeout);
  assert.equal(failure.retryable, true);
  deadline.dispose();
});

test("Deadline: disposed before the timeout, it never fires", async () => {
  const deadline = new Deadline(undefined, 1);
  deadline.dispose();
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(deadline.signal.aborted, false);
  assert.equal(deadline.timedOut, false);
});
