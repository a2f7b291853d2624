import assert from "node:assert/strict";
import { test } from "node:test";
import { EdgeError, EdgeErrorCode } from "../src/errors.js";
import { playFailureStatus, statusForCode, statusForPlayError } from "../src/session/status-for-error.js";

/** The one table of which NetStream status a play failing on an edge error ends with. */

test("each listed edge code maps to its status; anything else is NetStream.Play.Failed", () => {
  const cases: [unknown, string][] = [
    [new EdgeError(EdgeErrorCode.MediaInvalid, "x"), "NetStream.Play.FileStructureInvalid"],
    [new EdgeError(EdgeErrorCode.MediaTooLarge, "x"), "NetStream.Play.FileStructureInvalid"],
    [new EdgeError(EdgeErrorCode.ShieldUnavailable, "x"), "NetStream.Play.Failed"],
    [new EdgeError(EdgeErrorCode.PlayStalled, "x"), "NetStream.Play.Failed"],
    [new EdgeError(EdgeErrorCode.LookupRateLimited, "x"), "NetStream.Play.Failed"],
    [new EdgeError(EdgeErrorCode.CommandInvalid, "x"), "NetStream.Play.Failed"],
    [new Error("no code"), "NetStream.Play.Failed"],
    [{ code: "SHIELD_ERR_SOMETHING" }, "NetStream.Play.Failed"],
    [{ code: "toString" }, "NetStream.Play.Failed"],
    [null, "NetStream.Play.Failed"],
  ];
  for (const [error, want] of cases) assert.equal(statusForPlayError(error), want, String(error));
  assert.equal(statusForCode(undefined), "NetStream.Play.Failed");
});

test("every code in the table is a registered edge code", () => {
  const codes = new Set<string>(Object.values(EdgeErrorCode));
  for (const code of Object.keys(playFailureStatus)) assert.ok(codes.has(code), code);
});
