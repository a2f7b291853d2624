import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Prng } from "../../lib/testing/prng.js";
import {
  classifyRtmptRequest,
  formatRtmptPath,
  fuzzRtmptRequest,
  maxSequence,
  parseRtmptRequest,
  RtmptRejectReason,
  RtmptRequestError,
} from "../src/transport/rtmpt/request-path.js";
import { newSessionId, sessionIdPattern } from "../src/transport/rtmpt/session-id.js";

const id = "00112233445566778899aabbccddeeff";

function reason(method: string, url: string): string {
  const result = classifyRtmptRequest(method, url);
  assert.ok(result instanceof RtmptRequestError, `${method} ${url} should be refused`);
  return result.reason;
}

describe("RTMPT request paths", () => {
  test("the five commands as librtmp, ffmpeg and Flash send them", () => {
    assert.deepEqual(parseRtmptRequest("POST", "/fcs/ident2"), { kind: "ident" });
    assert.deepEqual(parseRtmptRequest("POST", "/fcs/ident"), { kind: "ident" });
    assert.deepEqual(parseRtmptRequest("POST", "/fcs/ident/"), { kind: "ident" });
    assert.deepEqual(parseRtmptRequest("GET", "/fcs/ident2"), { kind: "ident" }, "any method gets the 404");
    assert.deepEqual(parseRtmptRequest("POST", "/open/1"), { kind: "open" });
    assert.deepEqual(parseRtmptRequest("POST", `/send/${id}/0`), { kind: "send", sessionId: id, seq: 0 });
    assert.deepEqual(parseRtmptRequest("POST", `/idle/${id}/17`), { kind: "idle", sessionId: id, seq: 17 });
    assert.deepEqual(parseRtmptRequest("POST", `/close/${id}/${maxSequence}`), {
      kind: "close",
      sessionId: id,
      seq: maxSequence,
    });
  });

  test("paths that are not RTMPT's are left to the HTTP responder", () => {
    for (const url of [
      "/",
      "",
      "/crossdomain.xml",
      "/fcs/other",
      "/opens/1",
      "/OPEN/1",
      "open/1",
      "//open/1",
      "*",
    ]) {
      assert.equal(reason("POST", url), RtmptRejectReason.NotTunnel, url);
    }
  });

  test("malformed RTMPT paths are refused with a precise reason", () => {
    const cases: [string, string, RtmptRejectReason][] = [
      ["GET", "/open/1", RtmptRejectReason.Method],
      ["PUT", `/send/${id}/0`, RtmptRejectReason.Method],
      ["post", `/send/${id}/0`, RtmptRejectReason.Method],
      ["POST", "/open", RtmptRejectReason.Malformed],
      ["POST", "/open/", RtmptRejectReason.OpenVersion],
      ["POST", "/open/2", RtmptRejectReason.OpenVersion],
      ["POST", "/open/01", RtmptRejectReason.OpenVersion],
      ["POST", "/open/1/", RtmptRejectReason.Malformed],
      ["POST", "/open/1?x", RtmptRejectReason.Malformed],
      ["POST", `/send/${id}`, RtmptRejectReason.Malformed],
      ["POST", `/send/${id}/`, RtmptRejectReason.Sequence],
      ["POST", `/send/${id}/0/`, RtmptRejectReason.Malformed],
      ["POST", `/send/${id}/0/extra`, RtmptRejectReason.Malformed],
      ["POST", `/send/${id}/0?seq=1`, RtmptRejectReason.Malformed],
      ["POST", "/send//0", RtmptRejectReason.SessionId],
      ["POST", `/send/${id.toUpperCase()}/0`, RtmptRejectReason.SessionId],
      ["POST", `/send/${id}0/0`, RtmptRejectReason.SessionId],
      ["POST", `/send/${id.slice(1)}/0`, RtmptRejectReason.SessionId],
      ["POST", "/send/%30%31/0", RtmptRejectReason.SessionId],
      ["POST", `/idle/${id}/-1`, RtmptRejectReason.Sequence],
      ["POST", `/idle/${id}/+1`, RtmptRejectReason.Sequence],
      ["POST", `/idle/${id}/01`, RtmptRejectReason.Sequence],
      ["POST", `/idle/${id}/1.0`, RtmptRejectReason.Sequence],
      ["POST", `/idle/${id}/1e3`, RtmptRejectReason.Sequence],
      ["POST", `/idle/${id}/0x10`, RtmptRejectReason.Sequence],
      ["POST", `/idle/${id}/abc`, RtmptRejectReason.Sequence],
      ["POST", `/idle/${id}/ 1`, RtmptRejectReason.Sequence],
      ["POST", `/idle/${id}/${maxSequence + 1}`, RtmptRejectReason.Sequence],
      ["POST", `/idle/${id}/99999999999`, RtmptRejectReason.Sequence],
      ["POST", `/idle/${id}/${"9".repeat(100)}`, RtmptRejectReason.Malformed],
      ["POST", `/idle/${id}/${"1".repeat(400)}`, RtmptRejectReason.Malformed],
    ];
    for (const [method, url, want] of cases) assert.equal(reason(method, url), want, `${method} ${url}`);
  });

  test("errors carry the edge's code and quote a peer's token cut short", () => {
    const error = classifyRtmptRequest("POST", `/idle/${"z".repeat(32)}/0`);
    assert.ok(error instanceof RtmptRequestError);
    assert.equal(error.code, "EDGE_ERR_RTMPT_REQUEST_INVALID");
    assert.match(error.message, /"z{32}" is not 32 lowercase hex digits/);
    assert.throws(
      () => parseRtmptRequest("POST", "/open/9"),
      (e: unknown) => e instanceof RtmptRequestError && e.reason === RtmptRejectReason.OpenVersion,
    );
  });

  test("formatRtmptPath is the parser's inverse", () => {
    for (const url of ["/open/1", `/send/${id}/0`, `/idle/${id}/123456`, `/close/${id}/${maxSequence}`]) {
      assert.equal(formatRtmptPath(parseRtmptRequest("POST", url)), url);
    }
    assert.equal(formatRtmptPath({ kind: "ident" }), "/fcs/ident2");
  });

  test("session ids are 128 random bits in 32 hex digits and parse back", () => {
    const ids = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const next = newSessionId();
      assert.match(next, sessionIdPattern);
      ids.add(next);
      assert.deepEqual(parseRtmptRequest("POST", `/idle/${next}/0`), {
        kind: "idle",
        sessionId: next,
        seq: 0,
      });
    }
    assert.equal(ids.size, 1000);
    assert.equal(
      newSessionId(() => Buffer.alloc(16, 0xab)),
      "ab".repeat(16),
      "drawn from the given source",
    );
  });
});

describe("fuzzRtmptRequest", () => {
  function onlyOwnErrors(bytes: Uint8Array): void {
    try {
      fuzzRtmptRequest(bytes);
    } catch (error) {
      if (!(error instanceof RtmptRequestError)) throw error;
    }
  }

  test("valid inputs pass; invalid ones throw only RtmptRequestError", () => {
    fuzzRtmptRequest(Buffer.from(`POST\n/send/${id}/42`));
    fuzzRtmptRequest(Buffer.from("/open/1"));
    fuzzRtmptRequest(Buffer.from("GET\n/fcs/ident2"));
    assert.throws(() => fuzzRtmptRequest(Buffer.from("GET\n/open/1")), RtmptRequestError);
    assert.throws(() => fuzzRtmptRequest(Buffer.alloc(0)), RtmptRequestError);
  });

  test("random and mutated inputs never throw anything else", () => {
    const prng = new Prng(0x5eed);
    const random = () => prng.next();
    const seeds = [
      `POST\n/send/${id}/0`,
      `POST\n/idle/${id}/2147483647`,
      "POST\n/open/1",
      "POST\n/fcs/ident2",
      `POST\n/close/${id}/9`,
    ].map((s) => Buffer.from(s, "latin1"));
    const alphabet = Buffer.from("/0123456789abcdefABCDEF?%-_.\n\0 \xff", "latin1");
    for (let i = 0; i < 20_000; i++) {
      const base = Buffer.from(seeds[i % seeds.length]!);
      const bytes = i % 4 === 0 ? Buffer.alloc(Math.floor(random() * 200)) : base;
      const edits = 1 + Math.floor(random() * 4);
      for (let e = 0; e < edits && bytes.length > 0; e++) {
        const at = Math.floor(random() * bytes.length);
        bytes[at] =
          random() < 0.5 ? alphabet[Math.floor(random() * alphabet.length)]! : Math.floor(random() * 256);
      }
      onlyOwnErrors(bytes);
    }
  });
});
