import assert from "node:assert/strict";
import { test } from "node:test";
import { parseStreamName } from "../src/stream-name.js";

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
});
