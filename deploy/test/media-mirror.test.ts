import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  type FileStamp,
  listFolder,
  type MediaChange,
  MediaMirror,
  type Timers,
} from "../local/media-mirror.js";

/** A folder in memory and a timer that fires only when the test says so. */
function rig(options: { failApply?: (change: MediaChange) => boolean } = {}) {
  const files = new Map<string, FileStamp>();
  const applied: string[] = [];
  const errors: string[] = [];
  let pending: (() => void) | undefined;
  let scheduledMs = -1;
  const timers: Timers = {
    setTimeout(callback, ms) {
      pending = callback;
      scheduledMs = ms;
      return 1;
    },
    clearTimeout() {
      pending = undefined;
    },
  };
  const mirror = new MediaMirror({
    dir: "/media",
    intervalMs: 2000,
    list: async () => new Map(files),
    apply: async (change) => {
      if (options.failApply?.(change)) throw new Error(`cannot ${change.kind} ${change.key}`);
      applied.push(`${change.kind} ${change.key}${"file" in change ? ` ${change.file}` : ""}`);
    },
    onError: (error) => errors.push(String(error)),
    timers,
  });
  return {
    files,
    applied,
    errors,
    mirror,
    scheduledMs: () => scheduledMs,
    /** Fires the timer as if intervalMs passed, and waits for that poll. */
    async tick() {
      const callback = pending;
      assert.ok(callback, "a poll is scheduled");
      pending = undefined;
      callback();
      await mirror.poll();
    },
    hasTimer: () => pending !== undefined,
  };
}

describe("MediaMirror", () => {
  it("uploads a new file only once its size and mtime held for one interval", async () => {
    const r = rig();
    r.files.set("old.flv", { size: 10, mtimeMs: 1 });
    r.mirror.start(new Map(r.files));
    assert.equal(r.scheduledMs(), 2000);
    await r.tick();
    assert.deepEqual(r.applied, [], "the baseline is not uploaded again");
    // A copy in progress: growing at every poll.
    r.files.set("new/clip.flv", { size: 100, mtimeMs: 5 });
    await r.tick();
    r.files.set("new/clip.flv", { size: 200, mtimeMs: 6 });
    await r.tick();
    r.files.set("new/clip.flv", { size: 300, mtimeMs: 7 });
    await r.tick();
    assert.deepEqual(r.applied, [], "not while it is still being written");
    await r.tick();
    assert.deepEqual(r.applied, ["added new/clip.flv /media/new/clip.flv"]);
    await r.tick();
    assert.equal(r.applied.length, 1, "uploaded once");
    assert.ok(r.hasTimer(), "keeps polling");
  });

  it("a replaced file (same size, new mtime) is uploaded again; a removed one is removed", async () => {
    const r = rig();
    r.files.set("a.mp4", { size: 10, mtimeMs: 1 });
    r.files.set("b.mp3", { size: 20, mtimeMs: 1 });
    r.mirror.start(new Map(r.files));
    r.files.set("a.mp4", { size: 10, mtimeMs: 2 });
    r.files.delete("b.mp3");
    await r.tick();
    assert.deepEqual(r.applied, ["removed b.mp3"], "removal needs no second look; the change does");
    await r.tick();
    assert.deepEqual(r.applied, ["removed b.mp3", "replaced a.mp4 /media/a.mp4"]);
  });

  it("a change that fails to apply is reported and retried at the next poll", async () => {
    let failing = true;
    const r = rig({ failApply: () => failing });
    r.mirror.start(new Map());
    r.files.set("x.flv", { size: 1, mtimeMs: 1 });
    await r.tick();
    await r.tick();
    assert.equal(r.errors.length, 1);
    assert.match(r.errors[0]!, /cannot added x\.flv/);
    failing = false;
    await r.tick();
    assert.deepEqual(r.applied, ["added x.flv /media/x.flv"]);
  });

  it("stop() cancels the timer; interval 0 never polls", async () => {
    const r = rig();
    r.mirror.start(new Map());
    assert.ok(r.hasTimer());
    await r.mirror.stop();
    assert.ok(!r.hasTimer());
    let polled = false;
    const off = new MediaMirror({
      dir: "/media",
      intervalMs: 0,
      list: async () => {
        polled = true;
        return new Map();
      },
      apply: async () => {},
      onError: () => {},
      timers: {
        setTimeout: () => assert.fail("no timer with interval 0"),
        clearTimeout: () => {},
      },
    });
    off.start(new Map());
    await off.stop();
    assert.ok(!polled);
  });

  it("listFolder lists files by key with / separators, size and mtime", async () => {
    const dir = mkdtempSync(join(tmpdir(), "streamfront-mirror-"));
    try {
      mkdirSync(join(dir, "my clips"));
      writeFileSync(join(dir, "my clips", "été.flv"), "12345");
      utimesSync(join(dir, "my clips", "été.flv"), 1000, 1000);
      writeFileSync(join(dir, "top.mp3"), "");
      const listing = await listFolder(dir);
      assert.deepEqual([...listing.keys()].sort(), ["my clips/été.flv", "top.mp3"]);
      assert.deepEqual(listing.get("my clips/été.flv"), { size: 5, mtimeMs: 1_000_000 });
      assert.equal(listing.get("top.mp3")?.size, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
