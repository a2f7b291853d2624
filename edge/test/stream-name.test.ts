import assert from "node:assert/strict";
import { test } from "node:test";
import { parseStreamName } from "../src/routing/stream-name.js";

test("FLV names map to .flv keys with or without the extension", () => {
  assert.deepEqual(parseStreamName("videos/clip"), {
    key: "videos/clip.flv",
    container: "flv",
    query: "",
    name: "videos/clip",
  });
  assert.equal(parseStreamName("videos/clip.flv")?.key, "videos/clip.flv");
  assert.equal(parseStreamName("videos/clip.FLV")?.key, "videos/clip.FLV");
  assert.equal(parseStreamName("flv:videos/clip")?.key, "videos/clip.flv");
});

test("mp4: appends .mp4 only when the name has no MPEG-4 extension", () => {
  assert.equal(parseStreamName("mp4:videos/clip")?.key, "videos/clip.mp4");
  for (const ext of [".mp4", ".f4v", ".m4v", ".m4a", ".mov", ".3gp"]) {
    const parsed = parseStreamName(`mp4:a/b${ext}`);
    assert.equal(parsed?.key, `a/b${ext}`);
    assert.equal(parsed?.container, "mp4");
  }
  assert.equal(parseStreamName("MP4:clip")?.container, "mp4");
  assert.equal(parseStreamName("mp4:clip.v2")?.key, "clip.v2.mp4");
});

test("mp3: maps to .mp3", () => {
  assert.equal(parseStreamName("mp3:audio/song")?.key, "audio/song.mp3");
  assert.equal(parseStreamName("mp3:audio/song.mp3")?.key, "audio/song.mp3");
  assert.equal(parseStreamName("mp3:audio/song")?.container, "mp3");
});

test("the query is stripped from the key and kept apart", () => {
  const parsed = parseStreamName("videos/clip?Expires=1&Signature=x~y&Key-Pair-Id=APKA");
  assert.equal(parsed?.key, "videos/clip.flv");
  assert.equal(parsed?.query, "Expires=1&Signature=x~y&Key-Pair-Id=APKA");
});

test("folders, spaces and UTF-8 survive; leading slashes are dropped", () => {
  assert.equal(parseStreamName("my videos/été/clip 1")?.key, "my videos/été/clip 1.flv");
  assert.equal(parseStreamName("/videos/clip")?.key, "videos/clip.flv");
});

test("names that would leave the bucket root or are empty are refused", () => {
  for (const bad of [
    "",
    "mp4:",
    "../secret",
    "videos/../../x",
    "./x",
    "a/./b",
    "mp3:..",
    "x\0y",
    "?q=1",
    "/",
  ]) {
    assert.equal(parseStreamName(bad), null, JSON.stringify(bad));
  }
  assert.equal(parseStreamName("a".repeat(1025)), null);
  assert.notEqual(parseStreamName("a".repeat(1000)), null);
  // A signed URL's query has its own, larger bound: a 4,096-bit signature and a custom policy fit.
  assert.equal(parseStreamName(`videos/clip?${"P".repeat(3000)}`)?.query.length, 3000);
  assert.equal(parseStreamName(`videos/clip?${"P".repeat(4097)}`), null);
  assert.equal(parseStreamName(`${"a".repeat(1025)}?x=1`), null);
});

test("mp4%3A (the colon percent-encoded, as the official signer writes it) is mp4:", () => {
  assert.deepEqual(parseStreamName("mp4%3Avideos/clip.mp4?Expires=1"), {
    key: "videos/clip.mp4",
    container: "mp4",
    query: "Expires=1",
    name: "mp4%3Avideos/clip.mp4?Expires=1",
  });
  assert.equal(parseStreamName("MP3%3aaudio/song")?.key, "audio/song.mp3");
});

test("the connect's app prefix is the front of the key; mp4:/mp3: may stand on either part", () => {
  assert.equal(parseStreamName("sample", "videos")?.key, "videos/sample.flv");
  assert.equal(parseStreamName("sample.mp4", "mp4:videos")?.key, "videos/sample.mp4");
  assert.equal(parseStreamName("sample.mp4", "mp4:videos")?.container, "mp4");
  // librtmp adds mp4: to a play path ending .mp4 (and drops .flv/.mp3 for flv:/mp3:).
  assert.equal(parseStreamName("mp4:sample.mp4", "mp4:videos")?.key, "videos/sample.mp4");
  assert.equal(parseStreamName("mp4:sample", "videos")?.key, "videos/sample.mp4");
  assert.equal(parseStreamName("sample", "mp3:audio")?.key, "audio/sample.mp3");
  assert.equal(parseStreamName("c", "a/b")?.key, "a/b/c.flv");
  assert.equal(parseStreamName("x?Signature=s", "videos")?.query, "Signature=s");
  assert.equal(parseStreamName("../../secret", "videos"), null);
  assert.equal(parseStreamName("x", ".."), null);
});

test("names are percent-decoded (printed URLs encode spaces); a bare % stays", () => {
  assert.equal(parseStreamName("videos/my%20clip")?.key, "videos/my clip.flv");
  assert.equal(parseStreamName("clip", "my%20folder")?.key, "my folder/clip.flv");
  assert.equal(parseStreamName("100%")?.key, "100%.flv");
  assert.equal(parseStreamName("caf%C3%A9")?.key, "café.flv");
  assert.equal(parseStreamName("a%3Fb")?.key, "a?b.flv");
  // Encoded dot segments and NULs are refused like plain ones.
  assert.equal(parseStreamName("%2e%2e/x"), null);
  assert.equal(parseStreamName("a%00b"), null);
});
