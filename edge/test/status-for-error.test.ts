import assert from "node:assert/strict";
import { test } from "node:test";
import { EdgeError, EdgeErrorCode } from "../src/errors.js";
import { playFailureCode, playFailureStatus, viewerStatusByCode } from "../src/session/status-for-error.js";

/** The one table of what a viewer is told for an edge error (a play's NetStream status, or the connection closed). */

test("play failures end the play with their status; an error without an edge code is EDGE_ERR_INTERNAL, Play.Failed", () => {
  const cases: [unknown, string, string][] = [
    [
      new EdgeError(EdgeErrorCode.MediaInvalid, "x"),
      EdgeErrorCode.MediaInvalid,
      "NetStream.Play.FileStructureInvalid",
    ],
    [
      new EdgeError(EdgeErrorCode.MediaTooLarge, "x"),
      EdgeErrorCode.MediaTooLarge,
      "NetStream.Play.FileStructureInvalid",
    ],
    [
      new EdgeError(EdgeErrorCode.ShieldUnavailable, "x"),
      EdgeErrorCode.ShieldUnavailable,
      "NetStream.Play.Failed",
    ],
    [
      new EdgeError(EdgeErrorCode.OriginUnavailable, "x"),
      EdgeErrorCode.OriginUnavailable,
      "NetStream.Play.Failed",
    ],
    [new EdgeError(EdgeErrorCode.PlayStalled, "x"), EdgeErrorCode.PlayStalled, "NetStream.Play.Failed"],
    [
      new EdgeError(EdgeErrorCode.LookupRateLimited, "x"),
      EdgeErrorCode.LookupRateLimited,
      "NetStream.Play.Failed",
    ],
    // A connection-level code reaching a play still ends only the play.
    [new EdgeError(EdgeErrorCode.CommandInvalid, "x"), EdgeErrorCode.CommandInvalid, "NetStream.Play.Failed"],
    [new Error("no code"), EdgeErrorCode.Internal, "NetStream.Play.Failed"],
    [{ code: "SHIELD_ERR_SOMETHING" }, EdgeErrorCode.Internal, "NetStream.Play.Failed"],
    [{ code: "toString" }, EdgeErrorCode.Internal, "NetStream.Play.Failed"],
    [null, EdgeErrorCode.Internal, "NetStream.Play.Failed"],
  ];
  for (const [error, code, status] of cases) {
    assert.equal(playFailureCode(error), code, String(error));
    const answered = playFailureStatus("videos/clip", error);
    assert.equal(answered.code, status, String(error));
    assert.equal(answered.level, "error");
    assert.match(answered.description, /^Failed to play videos\/clip: /);
  }
});

test("the table has a row for every registered edge code and no other", () => {
  assert.deepEqual(Object.keys(viewerStatusByCode).sort(), Object.values(EdgeErrorCode).sort());
  assert.equal(viewerStatusByCode[EdgeErrorCode.SlowViewer].kind, "closed");
  assert.equal(viewerStatusByCode[EdgeErrorCode.HandshakeTimeout].kind, "closed");
});
