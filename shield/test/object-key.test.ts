import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bucketProblem, keyProblem, maxKeyBytes } from "../src/object-key.js";

/** Keys S3 could read as another path (or that break the request): each is refused. */
const refused: ReadonlyArray<readonly [string, string, RegExp]> = [
  ["parent of the bucket", "../otherbucket/secret", /dot segment/],
  ["parent after a segment", "a/../../otherbucket/secret", /dot segment/],
  ["current segment", "./videos/clip.flv", /dot segment/],
  ["trailing parent", "videos/..", /dot segment/],
  ["lone parent", "..", /dot segment/],
  ["lone current", ".", /dot segment/],
  ["percent-encoded parent", "%2e%2e/otherbucket/secret", /dot segment once decoded/],
  ["upper-case encoded parent", "%2E%2E/otherbucket/secret", /dot segment once decoded/],
  ["half-encoded parent", ".%2e/otherbucket/secret", /dot segment once decoded/],
  ["double-encoded parent", "%252e%252e/otherbucket/secret", /dot segment once decoded/],
  ["encoded slash", "..%2fotherbucket%2fsecret", /path separator once decoded/],
  ["encoded backslash", "..%5cotherbucket", /path separator once decoded/],
  ["fullwidth dots (NFKC ..)", "\uff0e\uff0e/otherbucket/secret", /dot segment once decoded/],
  ["two-dot leader (NFKC ..)", "\u2025/otherbucket/secret", /dot segment once decoded/],
  ["fullwidth solidus (NFKC /)", "..\uff0fotherbucket", /path separator once decoded/],
  ["backslash parent", "..\\otherbucket\\secret", /backslash/],
  ["backslash inside a name", "videos\\clip.flv", /backslash/],
  ["leading slash", "/otherbucket/secret", /segment 1 is empty/],
  ["leading slash then parent", "/../otherbucket/secret", /segment 1 is empty/],
  ["doubled slash", "videos//clip.flv", /segment 2 is empty/],
  ["doubled slash then parents", "a//../../otherbucket/secret", /segment 2 is empty/],
  ["trailing slash", "videos/", /segment 2 is empty/],
  ["empty", "", /empty/],
  ["NUL", "a\u0000b.flv", /control character/],
  ["line feed", "a\nb.flv", /control character/],
  ["carriage return", "a\rb.flv", /control character/],
  ["tab", "a\tb.flv", /control character/],
  ["DEL", "a\u007fb.flv", /control character/],
  ["C1 control", "a\u0085b.flv", /control character/],
  ["lone high surrogate", "\ud800x.flv", /lone surrogate/],
  ["lone low surrogate", "x\udc00.flv", /lone surrogate/],
  ["reversed surrogate pair", "\udc00\ud800.flv", /lone surrogate/],
  ["over 1024 UTF-8 bytes", "a".repeat(maxKeyBytes + 1), /too long/],
  ["over 1024 bytes in 3-byte characters", "\u20ac".repeat(342), /too long \(1026 vs 1024/],
];

/** Keys media libraries really have: each is passed to S3 as it is. */
const accepted: ReadonlyArray<readonly [string, string]> = [
  ["dots inside a name", "a..b"],
  ["hidden file", ".hidden"],
  ["three dots", "..."],
  ["dotted directory", "v1.0/x.flv"],
  ["dot-prefixed directory", ".well/clip.flv"],
  ["double dot suffix", "clip..flv"],
  ["spaces", "My Videos/clip one.mp4"],
  ["percent that is not a dot", "100%/clip.flv"],
  ["percent escape of a letter", "a%41b.flv"],
  ["malformed percent escape", "%e2%82.flv"],
  ["query-like characters", "clip?x=1&y=#2.flv"],
  ["non-ASCII", "vidéos/日本語/clip.flv"],
  ["astral plane (a surrogate pair)", "emoji/\u{1f3ac}.flv"],
  ["exactly 1024 bytes", "a".repeat(maxKeyBytes)],
  ["plain key", "videos/sample.mp4"],
];

describe("keyProblem", () => {
  for (const [what, key, reason] of refused) {
    it(`refuses ${what}`, () => {
      const problem = keyProblem(key);
      assert.ok(problem, `${JSON.stringify(key)} was accepted`);
      assert.match(problem, reason);
    });
  }
  for (const [what, key] of accepted) {
    it(`accepts ${what}`, () => {
      assert.equal(keyProblem(key), undefined);
    });
  }
});

describe("bucketProblem", () => {
  it("accepts S3 bucket names, legacy ones included", () => {
    for (const bucket of ["media-origin", "a.b.c", "Legacy_Bucket", "abc"]) {
      assert.equal(bucketProblem(bucket), undefined, bucket);
    }
  });

  it("refuses names that are not one path segment of S3 bucket characters", () => {
    for (const bucket of ["", "..", ".", "a/b", "a\\b", "a%2fb", "a b", "a\u0000", "x".repeat(256)]) {
      assert.ok(bucketProblem(bucket), JSON.stringify(bucket));
    }
  });
});
