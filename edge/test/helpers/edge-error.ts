import assert from "node:assert/strict";
import { EdgeError, type EdgeErrorCode } from "../../src/errors.js";

/** Asserts that `run` throws an EdgeError with `code` (and nothing else, e.g. no RangeError). */
export function assertEdgeError(run: () => unknown, code: EdgeErrorCode, message?: RegExp): EdgeError {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught !== undefined, `expected EdgeError ${code}, but nothing was thrown`);
  assert.ok(caught instanceof EdgeError, `expected EdgeError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, `expected code ${code}, got ${caught.code}: ${caught.message}`);
  if (message) assert.match(caught.message, message);
  return caught;
}

/** Runs `run`; any throw other than an EdgeError fails the test. Returns the EdgeError, if any. */
export function onlyEdgeErrors(run: () => unknown, context: string): EdgeError | null {
  try {
    run();
    return null;
  } catch (error) {
    if (error instanceof EdgeError) return error;
    assert.fail(`${context}: threw a non-EdgeError: ${error instanceof Error ? error.stack : String(error)}`);
  }
}
