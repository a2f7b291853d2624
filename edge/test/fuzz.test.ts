import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatFailure, formatReport, reproduceCommand, runCampaign } from "./fuzz/campaign.js";
import { prepareCase, timeSeed } from "./fuzz/fuzz-harness.js";
import { formatServerReport, runServerCampaign, ServerCaseKind } from "./fuzz/server-target.js";
import { findTarget, TARGETS } from "./fuzz/targets/index.js";
import { SelftestBehaviour, selftestBehaviour } from "./fuzz/targets/selftest.js";

/*
 * A short run of every fuzz target (the full campaign is `npm run fuzz`,
 * 100 000 cases per target): once with a fixed seed, so a regression is
 * caught the same way every time, and once with a seed from the clock,
 * printed, so each run explores new cases and any failure replays with
 * the printed command.
 */

const FIXED_SEED = 20_240_229;

/** Sized to keep this whole file under ~15 s on two cores. */
const CASES: Record<string, number> = { handshake: 1000, chunk: 2000, amf: 3000, demux: 1500, rtmpt: 5000 };
const DEFAULT_CASES = 2000;

async function fuzzAll(seed: number, diagnostic: (message: string) => void): Promise<void> {
  const names = TARGETS.map((t) => t.name);
  const reports = await runCampaign({
    targets: names,
    seed,
    cases: DEFAULT_CASES,
    casesPerTarget: CASES,
    jobs: 2,
    maxFailures: 3,
    log: diagnostic,
  });
  for (const report of reports) diagnostic(formatReport(report).replace(/\n\s+/g, "; "));
  const failures = reports.flatMap((r) => r.failures);
  assert.equal(
    failures.length,
    0,
    `fuzz failures (seed ${seed}):\n\n${failures.map((f) => formatFailure(f)).join("\n\n")}`,
  );
  for (const report of reports) {
    assert.equal(report.cases, CASES[report.target] ?? DEFAULT_CASES, `${report.target} ran every case`);
    assert.ok(report.accepted > 0 && report.rejected > 0, `${report.target} both accepts and rejects inputs`);
  }
}

describe("fuzz targets (short run; the full campaign is npm run fuzz)", () => {
  it(`fixed seed ${FIXED_SEED}`, async (t) => {
    t.diagnostic(`seed ${FIXED_SEED}`);
    await fuzzAll(FIXED_SEED, (m) => t.diagnostic(m));
  });

  const seed = timeSeed();
  it(`seed ${seed} from the clock (replay: npm run fuzz -- --seed ${seed} --cases 5000)`, async (t) => {
    t.diagnostic(`seed ${seed}`);
    await fuzzAll(seed, (m) => t.diagnostic(m));
  });
});

describe("fuzz harness", () => {
  it("catches a crash, a wrong error code, a hang and a memory blow-up, each pinned to its case", async () => {
    const seed = 7;
    const cases = 20;
    const [report] = await runCampaign({
      targets: ["selftest"],
      seed,
      cases,
      timeoutMs: 400,
      maxFailures: cases,
      log: () => {},
    });
    assert.ok(report);
    const expected = new Map<number, string>();
    const target = findTarget("selftest")!;
    for (let i = 0; i < cases; i++) {
      const behaviour = selftestBehaviour(prepareCase(target, seed, i));
      const kind = ["crash", "unexpected-code", "hang", "memory"][behaviour];
      if (kind !== undefined) expected.set(i, kind);
    }
    const seen = new Map(report.failures.map((f) => [f.caseIndex, f.kind]));
    assert.deepEqual(
      [...seen].sort((a, b) => a[0] - b[0]),
      [...expected].sort((a, b) => a[0] - b[0]),
      report.failures.map((f) => `case ${f.caseIndex}: ${f.kind}: ${f.message}`).join("\n"),
    );
    for (const kind of ["crash", "unexpected-code", "hang", "memory"]) {
      assert.ok([...expected.values()].includes(kind), `seed ${seed} exercises ${kind}`);
    }
    // Every case ran, including those after a killed worker.
    assert.equal(report.cases, cases);
    const crash = report.failures.find((f) => f.kind === "crash")!;
    assert.equal(crash.minimizedHex, "ab", "the crash input shrinks to the one byte that triggers it");
    assert.match(reproduceCommand(crash), /--target selftest --seed 7 --case \d+$/);
    assert.equal(selftestBehaviour({ describe: () => crash.details }), SelftestBehaviour.Crash);
  });
});

describe("server-level fuzz (short run; npm run fuzz -- --target server --cases 100000 for the full one)", () => {
  it("random and structured byte streams to a live edge's ports: it stays up, plays and stays within its RSS bound", async (t) => {
    const seed = timeSeed();
    t.diagnostic(`seed ${seed} (replay: npm run fuzz -- --target server --seed ${seed} --cases 3000)`);
    const report = await runServerCampaign({ seed, cases: 3000, log: (m) => t.diagnostic(m) });
    t.diagnostic(formatServerReport(report).replace(/\n\s+/g, "; "));
    assert.deepEqual(report.failures, [], formatServerReport(report));
    assert.equal(report.cases, 3000, "every case ran");
    assert.ok(report.probes >= 2, "a real play succeeded during and after the campaign");
    for (const kind of Object.values(ServerCaseKind))
      assert.ok((report.byKind[kind] ?? 0) > 0, `${kind} cases ran`);
    assert.ok(report.closedByEdge > 0, "the edge closed connections it refused");
  });
});
