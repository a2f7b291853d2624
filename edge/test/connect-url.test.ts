import assert from "node:assert/strict";
import { test } from "node:test";
import { ConnectProblem, parseConnectTarget } from "../src/routing/connect-url.js";

test("the tcUrl host picks the distribution: lower-cased, port ignored", () => {
  assert.deepEqual(parseConnectTarget("rtmp://S123ABC.Example.COM:1935/cfx/st", "cfx/st"), {
    host: "s123abc.example.com",
    query: "",
    streamPrefix: "",
  });
  assert.deepEqual(parseConnectTarget("rtmpt://cdn.example.com/cfx/st?a=b", "cfx/st?a=b"), {
    host: "cdn.example.com",
    query: "a=b",
    streamPrefix: "",
  });
  assert.equal((parseConnectTarget("rtmp://[::1]:1935/cfx/st", "cfx/st") as { host: string }).host, "[::1]");
});

test("cfx/st and cfx/st/_definst_ are the plain applications; cfx/st/<prefix> carries the key's front", () => {
  const prefix = (tcUrl: string, app: string) =>
    (parseConnectTarget(tcUrl, app) as { streamPrefix: string }).streamPrefix;
  assert.equal(prefix("rtmp://h/cfx/st/_definst_", "cfx/st/_definst_"), "");
  assert.equal(prefix("rtmp://h/cfx/st/", "cfx/st/"), "");
  // An empty app falls back to the tcUrl's path.
  assert.equal(prefix("rtmp://h/cfx/st", ""), "");
  // GStreamer's rtmp2src splits at the last slash, librtmp after the fourth path segment.
  assert.equal(prefix("rtmp://h/cfx/st/videos", "cfx/st/videos"), "videos");
  assert.equal(prefix("rtmp://h/cfx/st/mp4:videos", "cfx/st/mp4:videos"), "mp4:videos");
  assert.equal(prefix("rtmp://h/cfx/st/a/b", "cfx/st/a/b"), "a/b");
  assert.equal(prefix("rtmp://h/cfx/st/_definst_/a", "cfx/st/_definst_/a"), "a");
  assert.equal(prefix("rtmp://h/cfx/st/videos", ""), "videos");
  for (const app of ["live", "cfx", "cfx/sx", "cfx/stx/other", "vod/cfx/st", "x".repeat(3000)]) {
    assert.equal(
      parseConnectTarget("rtmp://h/cfx/st", app),
      ConnectProblem.InvalidInstance,
      app.slice(0, 20),
    );
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
