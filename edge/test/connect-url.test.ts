import assert from "node:assert/strict";
import { test } from "node:test";
import { ConnectProblem, parseConnectTarget } from "../src/connect-url.js";

test("the tcUrl host picks the distribution: lower-cased, port ignored", () => {
  assert.deepEqual(parseConnectTarget("rtmp://S123ABC.Example.COM:1935/cfx/st", "cfx/st"), {
    host: "s123abc.example.com",
    query: "",
  });
  assert.deepEqual(parseConnectTarget("rtmpt://cdn.example.com/cfx/st?a=b", "cfx/st?a=b"), {
    host: "cdn.example.com",
    query: "a=b",
  });
  assert.equal((parseConnectTarget("rtmp://[::1]:1935/cfx/st", "cfx/st") as { host: string }).host, "[::1]");
});

test("cfx/st and cfx/st/_definst_ are the only applications", () => {
  assert.equal(typeof parseConnectTarget("rtmp://h/cfx/st/_definst_", "cfx/st/_definst_"), "object");
  assert.equal(typeof parseConnectTarget("rtmp://h/cfx/st/", "cfx/st/"), "object");
  // An empty app falls back to the tcUrl's path.
  assert.equal(typeof parseConnectTarget("rtmp://h/cfx/st", ""), "object");
  for (const app of ["live", "cfx", "cfx/sx", "cfx/st/other", "vod/cfx/st"]) {
    assert.equal(parseConnectTarget("rtmp://h/cfx/st", app), ConnectProblem.InvalidInstance, app);
  }
});

test("a missing or malformed tcUrl is InvalidURI", () => {
  for (const tcUrl of [
    undefined,
    null,
    5,
    "",
    "http://h/cfx/st",
    "rtmp:/h/cfx/st",
    "rtmp://",
    "x".repeat(3000),
  ]) {
    assert.equal(parseConnectTarget(tcUrl, "cfx/st"), ConnectProblem.InvalidURI, String(tcUrl).slice(0, 20));
  }
});
