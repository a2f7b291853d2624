import type { EmbeddedS3 } from "../../../deploy/local/embedded-s3.js";
import type { BenchLifecycle } from "../harness/lifecycle.js";
import { log } from "../harness/results.js";
import { fixed, median, table } from "../harness/stats.js";
import { type Setup, startShield } from "./setup.js";
import { type GrpcRecord, measureGrpc } from "./throughput.js";

/** One run's cached gRPC read through the mutual-TLS shield and through its plaintext twin. */
export interface InternalTlsRecord {
  readonly run: number;
  readonly mtls: GrpcRecord;
  readonly plaintext: GrpcRecord;
}

/**
 * What mutual TLS (issue 11) costs on the shield path: the same cached
 * reads through the shield as deployed (mTLS, the reader holding an edge's
 * certificate) and through a twin shield on the same S3 with
 * internal-tls=plaintext, alternating which goes first.
 */
export async function measureInternalTls(
  lifecycle: BenchLifecycle,
  setup: Setup,
  s3: EmbeddedS3,
  cacheMemoryBytes: number,
  deadlineMs: number,
): Promise<InternalTlsRecord[]> {
  const { shield } = await startShield(lifecycle, s3, setup.o, cacheMemoryBytes, "plaintext");
  const plaintext: Setup = {
    ...setup,
    shieldPid: shield.child.pid!,
    admin: shield.addresses.admin ?? "",
    target: { ...setup.target, address: shield.addresses.grpc ?? "", tls: null },
  };
  const fill = await measureGrpc(plaintext, true, deadlineMs);
  if (fill.errors.length > 0)
    throw new Error(`the plaintext shield's verifying read failed: ${fill.errors.slice(0, 3).join("; ")}`);
  // As many unmeasured passes as the mTLS shield had before its measured runs (JIT, buffer pools): the
  // twin must not look dearer for being colder.
  for (let pass = 0; pass < 1 + setup.o.runs * 2; pass++) await measureGrpc(plaintext, false, deadlineMs);
  const records: InternalTlsRecord[] = [];
  for (let run = 1; run <= setup.o.runs; run++) {
    const plaintextFirst = run % 2 === 0;
    const first = await measureGrpc(plaintextFirst ? plaintext : setup, false, deadlineMs);
    const second = await measureGrpc(plaintextFirst ? setup : plaintext, false, deadlineMs);
    const record = plaintextFirst
      ? { run, mtls: second, plaintext: first }
      : { run, mtls: first, plaintext: second };
    records.push(record);
    log(
      `internal TLS run ${run}: mTLS ${fixed(record.mtls.MBps, 0)} MB/s (${fixed(record.mtls.shieldCpuSPerGB, 2)} shield CPU s/GB), ` +
        `plaintext ${fixed(record.plaintext.MBps, 0)} MB/s (${fixed(record.plaintext.shieldCpuSPerGB, 2)})`,
    );
  }
  return records;
}

export function internalTlsReport(runs: readonly InternalTlsRecord[]): string {
  const cols = (values: number[], digits: number) => [
    fixed(median(values), digits),
    ...values.map((v) => fixed(v, digits)),
  ];
  const rows = [
    [
      "gRPC MB/s, mutual TLS",
      ...cols(
        runs.map((r) => r.mtls.MBps),
        0,
      ),
    ],
    [
      "gRPC MB/s, plaintext",
      ...cols(
        runs.map((r) => r.plaintext.MBps),
        0,
      ),
    ],
    [
      "TLS / plaintext throughput",
      ...cols(
        runs.map((r) => r.mtls.MBps / r.plaintext.MBps),
        3,
      ),
    ],
    [
      "shield CPU s/GB, mutual TLS",
      ...cols(
        runs.map((r) => r.mtls.shieldCpuSPerGB),
        2,
      ),
    ],
    [
      "shield CPU s/GB, plaintext",
      ...cols(
        runs.map((r) => r.plaintext.shieldCpuSPerGB),
        2,
      ),
    ],
    [
      "reader CPU s, mutual TLS",
      ...cols(
        runs.map((r) => r.mtls.readerCpuS),
        2,
      ),
    ],
    [
      "reader CPU s, plaintext",
      ...cols(
        runs.map((r) => r.plaintext.readerCpuS),
        2,
      ),
    ],
  ];
  return [
    "",
    "Internal TLS: the same cached reads through a shield with mutual TLS (as deployed) and a twin with internal-tls=plaintext",
    table(["", "median", ...runs.map((r) => `run ${r.run}`)], rows),
  ].join("\n");
}
