import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createLogger, LogRateLimiter, redactQuery } from "../log.js";

describe("redactQuery", () => {
  const table: [string, string, boolean?][] = [
    ["videos/sample", "videos/sample"],
    ["videos/sample?start=10", "videos/sample?start=10"],
    [
      "mp4:videos/a.mp4?Policy=eyJTdGF0&Signature=abc~def&Key-Pair-Id=APKA123",
      "mp4:videos/a.mp4?Policy=REDACTED&Signature=REDACTED&Key-Pair-Id=REDACTED",
    ],
    ["a?Expires=1700000000&Signature=xyz", "a?Expires=1700000000&Signature=REDACTED"],
    ["a?signature=xyz&KEY-PAIR-ID=k", "a?signature=REDACTED&KEY-PAIR-ID=REDACTED"],
    ["a?Signature=", "a?Signature="],
    ["a?Signature", "a?Signature"],
    ["a?x=1;Signature=s;y=2", "a?x=1;Signature=REDACTED;y=2"],
    ["a?%53ignature=s", "a?%53ignature=REDACTED"],
    ["a?%zzSignature=s&Policy=p", "a?%zzSignature=s&Policy=REDACTED"],
    ["a?b?Signature=s", "a?b?Signature=REDACTED"],
    ["/open/1?Signature=s", "/open/1?Signature=REDACTED"],
    ["rtmp://h/cfx/st?auth=secret&x=1", "rtmp://h/cfx/st?auth=REDACTED&x=REDACTED", true],
    ["rtmp://h/cfx/st", "rtmp://h/cfx/st", true],
    ["", ""],
  ];
  for (const [input, expected, all] of table) {
    test(`${JSON.stringify(input)}${all ? " (all)" : ""}`, () => {
      assert.equal(redactQuery(input, { all: all ?? false }), expected);
    });
  }
});

describe("LogRateLimiter", () => {
  function setup(maxLines: number, intervalMs: number) {
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger({
      component: "test",
      level: "info",
      destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
    });
    let now = 0;
    const limiter = new LogRateLimiter({ maxLines, intervalMs, now: () => now });
    return {
      lines,
      logger,
      limiter,
      advance(ms: number) {
        now += ms;
      },
    };
  }

  test("N lines per key and interval, then one summary with the count", () => {
    const { lines, logger, limiter, advance } = setup(3, 1000);
    for (let i = 0; i < 10; i++)
      limiter.warn(logger, "refused:X", { remote: "1.2.3.4" }, "connection refused");
    assert.equal(lines.length, 3);
    assert.equal(limiter.suppressed("refused:X"), 7);
    advance(999);
    limiter.flush();
    assert.equal(lines.length, 3, "no summary before the interval ends");
    advance(1);
    limiter.warn(logger, "refused:X", { remote: "1.2.3.4" }, "connection refused");
    assert.equal(lines.length, 5);
    assert.equal(lines[3]!.msg, "suppressed 7 similar lines: connection refused");
    assert.equal(lines[3]!.suppressed, 7);
    assert.equal(lines[3]!.level, "warn");
    assert.equal(lines[4]!.msg, "connection refused");
  });

  test("keys are independent; flush writes the summaries of ended intervals only", () => {
    const { lines, logger, limiter, advance } = setup(1, 100);
    limiter.warn(logger, "a", {}, "A");
    limiter.warn(logger, "a", {}, "A");
    limiter.warn(logger, "b", {}, "B");
    assert.deepEqual(
      lines.map((l) => l.msg),
      ["A", "B"],
    );
    advance(50);
    limiter.warn(logger, "b", {}, "B");
    advance(50);
    limiter.flush();
    assert.deepEqual(
      lines.map((l) => l.msg),
      ["A", "B", "suppressed 1 similar lines: A", "suppressed 1 similar lines: B"],
    );
    limiter.flush();
    assert.equal(lines.length, 4, "a summary is written once");
    limiter.warn(logger, "c", {}, "C");
    limiter.warn(logger, "c", {}, "C");
    limiter.flush();
    assert.equal(lines.length, 5);
    limiter.flush(true);
    assert.equal(lines.at(-1)!.msg, "suppressed 1 similar lines: C", "flush(true) summarizes open intervals");
  });

  test("the number of keys is bounded: the oldest is summarized and dropped", () => {
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger({
      component: "test",
      level: "info",
      destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
    });
    const limiter = new LogRateLimiter({ maxLines: 1, intervalMs: 1000, now: () => 0, maxKeys: 2 });
    limiter.warn(logger, "k1", {}, "one");
    limiter.warn(logger, "k1", {}, "one");
    limiter.warn(logger, "k2", {}, "two");
    limiter.warn(logger, "k3", {}, "three");
    assert.deepEqual(
      lines.map((l) => l.msg),
      ["one", "two", "suppressed 1 similar lines: one", "three"],
    );
    assert.equal(limiter.suppressed("k1"), 0);
  });
});
