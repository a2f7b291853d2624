import assert from "node:assert/strict";
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { promises as dns } from "node:dns";
import { once } from "node:events";
import { after, before, describe, test } from "node:test";
import { connectivityState } from "@grpc/grpc-js";
import { ConfigError } from "../../lib/config/settings.js";
import { PeerRole } from "../../lib/grpc/peer-role.js";
import { silentLogger } from "../../lib/testing/shield.js";
import { testTls } from "../../lib/testing/tls.js";
import { eventually } from "../../lib/testing/wait.js";
import { loadEdgeConfig } from "../src/config.js";
import { EdgeError, EdgeErrorCode } from "../src/errors.js";
import { ShieldObjectOpener } from "../src/shield-client/object-opener.js";
import { rankReplicas } from "../src/shield-client/rendezvous.js";
import { ShieldPool, ShieldResult, ShieldTrafficStats } from "../src/shield-client/shield-pool.js";
import { parseShieldTargets, ShieldTargetError } from "../src/shield-client/shield-targets.js";

/** How the tiny DNS server answers one name. */
interface Zone {
  a?: string[];
  aaaa?: string[];
  /** Answer with this RCODE and no records (2 SERVFAIL, 3 NXDOMAIN). */
  rcode?: number;
  /** Do not answer at all (the resolver times out). */
  silent?: boolean;
}

/**
 * A real DNS server on 127.0.0.1 over UDP, just enough of RFC 1035 for A
 * and AAAA questions, so the pool's node:dns Resolver (c-ares) does real
 * lookups over a real socket and the test controls the answers.
 */
class TinyDns {
  readonly zones = new Map<string, Zone>();
  queries = 0;
  readonly #socket: Socket = createSocket("udp4");

  async start(): Promise<string> {
    this.#socket.on("message", (message, peer) => this.#answer(message, peer));
    this.#socket.bind(0, "127.0.0.1");
    await once(this.#socket, "listening");
    return `127.0.0.1:${this.#socket.address().port}`;
  }

  close(): void {
    this.#socket.close();
  }

  #answer(query: Buffer, peer: RemoteInfo): void {
    if (query.length < 12) return;
    this.queries++;
    const labels: string[] = [];
    let at = 12;
    while (at < query.length && query[at] !== 0) {
      const length = query[at]!;
      labels.push(query.toString("ascii", at + 1, at + 1 + length));
      at += 1 + length;
    }
    at += 1;
    const type = query.readUInt16BE(at);
    at += 4;
    const zone = this.zones.get(labels.join(".").toLowerCase());
    if (zone?.silent) return;
    const rcode = zone ? (zone.rcode ?? 0) : 3;
    const records =
      rcode !== 0 || !zone ? [] : type === 1 ? (zone.a ?? []) : type === 28 ? (zone.aaaa ?? []) : [];
    const header = Buffer.alloc(12);
    header.writeUInt16BE(query.readUInt16BE(0), 0);
    // QR, AA, the query's RD, RA, and the RCODE.
    header.writeUInt16BE(0x8000 | 0x0400 | (query.readUInt16BE(2) & 0x0100) | 0x0080 | rcode, 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(records.length, 6);
    const answers = records.map((address) => {
      const data = type === 1 ? ipv4Bytes(address) : ipv6Bytes(address);
      const rr = Buffer.alloc(12);
      rr.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
      rr.writeUInt16BE(type, 2);
      rr.writeUInt16BE(1, 4);
      rr.writeUInt32BE(5, 6);
      rr.writeUInt16BE(data.length, 10);
      return Buffer.concat([rr, data]);
    });
    this.#socket.send(Buffer.concat([header, query.subarray(12, at), ...answers]), peer.port, peer.address);
  }
}

function ipv4Bytes(address: string): Buffer {
  return Buffer.from(address.split(".").map(Number));
}

function ipv6Bytes(address: string): Buffer {
  const [head = "", tail = ""] = address.split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = [...left, ...Array(8 - left.length - right.length).fill("0"), ...right];
  const out = Buffer.alloc(16);
  for (const [i, group] of groups.entries()) out.writeUInt16BE(Number.parseInt(group, 16), i * 2);
  return out;
}

const logger = silentLogger("edge");

describe("ShieldPool with a static list", () => {
  test("holds the replicas sorted, ranks by rendezvous hashing, and makes one client per replica on first use", () => {
    const pool = new ShieldPool({
      tls: testTls(PeerRole.Edge),
      targets: "127.0.0.1:7102, 127.0.0.1:7101,127.0.0.1:7103",
      logger,
    });
    try {
      assert.deepEqual(pool.replicas, ["127.0.0.1:7101", "127.0.0.1:7102", "127.0.0.1:7103"]);
      for (const key of ["b/a.flv", "b/videos/sample.flv", "other/x.mp4"]) {
        assert.deepEqual(pool.rank(key), rankReplicas(key, pool.replicas));
      }
      assert.equal(pool.openClients, 0);
      const client = pool.client("127.0.0.1:7102");
      assert.ok(client);
      assert.equal(pool.client("127.0.0.1:7102"), client);
      assert.equal(pool.openClients, 1);
      assert.equal(pool.client("127.0.0.1:9999"), null, "not a replica");
      assert.deepEqual(pool.health(), { healthy: 3, penalized: 0 });
    } finally {
      pool.close();
    }
    assert.equal(pool.openClients, 0);
  });

  test("a failed replica ranks last for the penalty window, then takes its place again", async () => {
    const pool = new ShieldPool({
      tls: testTls(PeerRole.Edge),
      targets: ["127.0.0.1:7101", "127.0.0.1:7102"],
      logger,
      penaltyMs: 150,
    });
    try {
      const key = "bucket/videos/sample.flv";
      const [first, second] = pool.rank(key);
      pool.reportFailure(first!);
      assert.deepEqual(pool.rank(key), [second, first]);
      assert.deepEqual(pool.health(), { healthy: 1, penalized: 1 });
      await eventually(() => pool.rank(key)[0] === first, 2_000, "the penalty to end");
      assert.deepEqual(pool.health(), { healthy: 2, penalized: 0 });
      // Both failed: both stay in the list (the edge still tries them), in rendezvous order.
      pool.reportFailure(first!);
      pool.reportFailure(second!);
      assert.deepEqual(pool.rank(key), [first, second]);
      // A success ends the penalty at once.
      pool.reportSuccess(second!);
      assert.deepEqual(pool.rank(key), [second, first]);
    } finally {
      pool.close();
    }
  });

  test("refuses target lists it cannot use, naming the entry", () => {
    assert.deepEqual(parseShieldTargets("a:1,[::1]:2, dns:shield.ns.svc.cluster.local:7002 "), [
      { kind: "static", address: "a:1" },
      { kind: "static", address: "[::1]:2" },
      { kind: "dns", name: "shield.ns.svc.cluster.local", port: 7002 },
    ]);
    for (const [spec, reason] of [
      ["", /at least one/],
      [" , ", /at least one/],
      ["a:1,nope", /"nope": expected host:port/],
      ["a:0", /port must be/],
      ["a:70000", /port must be/],
      ["::1:80", /expected host:port/],
      ["dns:shield", /expected dns:<name>:<port>/],
      ["dns:bad_name:7002", /"bad_name" is not a DNS name/],
      ["a:1,a:1", /"a:1" is listed twice/],
    ] as const) {
      assert.throws(() => parseShieldTargets(spec), ShieldTargetError, spec);
      assert.throws(() => parseShieldTargets(spec), reason, spec);
    }
  });
});

describe("the edge's shield settings", () => {
  test("take a list and dns: names, and default to one local shield", () => {
    const defaults = loadEdgeConfig({}, []);
    assert.deepEqual(defaults.shield, ["127.0.0.1:7002"]);
    assert.equal(defaults.shieldIdleTimeoutMs, 3000);
    assert.equal(defaults.shieldPenaltyMs, 10_000);
    assert.equal(defaults.shieldDnsRefreshMs, 10_000);
    const set = loadEdgeConfig({ STREAMFRONT_EDGE_SHIELD: "10.0.0.1:7002, 10.0.0.2:7002" }, [
      "--shield-idle-timeout-ms",
      "1500",
      "--shield-penalty-ms",
      "0",
      "--shield-dns-refresh-ms",
      "500",
    ]);
    assert.deepEqual(set.shield, ["10.0.0.1:7002", "10.0.0.2:7002"]);
    assert.equal(set.shieldIdleTimeoutMs, 1500);
    assert.equal(set.shieldPenaltyMs, 0);
    assert.equal(set.shieldDnsRefreshMs, 500);
    assert.deepEqual(loadEdgeConfig({}, ["--shield", "dns:shield-headless:7002"]).shield, [
      "dns:shield-headless:7002",
    ]);
  });

  test("refuse a bad entry with a message naming the setting and the entry", () => {
    for (const [env, argv, message] of [
      [
        { STREAMFRONT_EDGE_SHIELD: "10.0.0.1:7002,shield" },
        [],
        /invalid setting shield \(STREAMFRONT_EDGE_SHIELD\): "10\.0\.0\.1:7002,shield": "shield": expected host:port/,
      ],
      [{}, ["--shield", "dns:x:99999"], /invalid setting shield \(--shield\): .*port must be/],
      [{ STREAMFRONT_EDGE_SHIELD: "a:1,a:1" }, [], /invalid setting shield .*listed twice/],
      [
        { STREAMFRONT_EDGE_SHIELD_IDLE_TIMEOUT_MS: "5" },
        [],
        /invalid setting shieldIdleTimeoutMs \(STREAMFRONT_EDGE_SHIELD_IDLE_TIMEOUT_MS\): "5": must be at least 100/,
      ],
      [
        {},
        ["--shield-penalty-ms=-1"],
        /invalid setting shieldPenaltyMs \(--shield-penalty-ms\): "-1": must be at least 0/,
      ],
      [{ STREAMFRONT_EDGE_SHIELD_DNS_REFRESH_MS: "abc" }, [], /shieldDnsRefreshMs.*expected a whole number/],
    ] as const) {
      assert.throws(() => loadEdgeConfig(env, argv), ConfigError);
      assert.throws(() => loadEdgeConfig(env, argv), message);
    }
  });
});

describe("ShieldPool with dns: names, against a DNS server on loopback", () => {
  const server = new TinyDns();
  let resolver: dns.Resolver;

  before(async () => {
    const address = await server.start();
    resolver = new dns.Resolver({ timeout: 150, tries: 1 });
    resolver.setServers([address]);
  });
  after(() => server.close());

  test("resolves A and AAAA records into replicas and follows changes, closing clients of replicas that left", async () => {
    server.zones.set("shield.test", { a: ["127.0.0.2", "127.0.0.3"], aaaa: ["::1"] });
    const pool = new ShieldPool({
      tls: testTls(PeerRole.Edge),
      targets: "dns:shield.test:7002",
      logger,
      resolver,
      dnsRefreshMs: 100,
    });
    try {
      await pool.ready();
      assert.deepEqual(pool.replicas, ["127.0.0.2:7002", "127.0.0.3:7002", "[::1]:7002"]);
      const leaving = pool.client("127.0.0.3:7002");
      assert.ok(leaving);
      const staying = pool.client("127.0.0.2:7002");
      assert.ok(staying);
      const generation = pool.generation;
      // An IPv4-only answer: resolve6 fails with ENODATA, which is not a failed lookup.
      server.zones.set("shield.test", { a: ["127.0.0.2", "127.0.0.4"] });
      await eventually(() => pool.generation > generation, 3_000, "the new replica set");
      assert.deepEqual(pool.replicas, ["127.0.0.2:7002", "127.0.0.4:7002"]);
      assert.equal(pool.openClients, 1);
      assert.equal(leaving.getChannel().getConnectivityState(false), connectivityState.SHUTDOWN);
      assert.notEqual(staying.getChannel().getConnectivityState(false), connectivityState.SHUTDOWN);
      assert.equal(pool.client("127.0.0.3:7002"), null);
    } finally {
      pool.close();
    }
  });

  test("keeps the last good set while lookups fail (SERVFAIL, NXDOMAIN, no answer)", async () => {
    server.zones.set("flaky.test", { a: ["127.0.0.5", "127.0.0.6"] });
    const pool = new ShieldPool({
      tls: testTls(PeerRole.Edge),
      targets: "dns:flaky.test:7002",
      logger,
      resolver,
      dnsRefreshMs: 100,
    });
    try {
      await pool.ready();
      const good = ["127.0.0.5:7002", "127.0.0.6:7002"];
      assert.deepEqual(pool.replicas, good);
      for (const zone of [{ rcode: 2 }, { silent: true }, { a: [] }]) {
        server.zones.set("flaky.test", zone);
        const seen = server.queries;
        // Several refreshes' worth of failed lookups.
        await eventually(
          () => server.queries >= seen + 6,
          5_000,
          `lookups answered with ${JSON.stringify(zone)}`,
        );
        assert.deepEqual(pool.replicas, good, JSON.stringify(zone));
      }
      server.zones.delete("flaky.test");
      const seen = server.queries;
      await eventually(() => server.queries >= seen + 6, 5_000, "NXDOMAIN lookups");
      assert.deepEqual(pool.replicas, good, "NXDOMAIN");
      server.zones.set("flaky.test", { a: ["127.0.0.7"] });
      await eventually(() => pool.replicas.join() === "127.0.0.7:7002", 3_000, "the recovered answer");
    } finally {
      pool.close();
    }
  });

  test("joins static entries and several names; an objects on a name that never resolved fails clearly", async () => {
    server.zones.set("one.test", { a: ["127.0.0.8"] });
    server.zones.set("two.test", { aaaa: ["fd00::2"] });
    const pool = new ShieldPool({
      tls: testTls(PeerRole.Edge),
      targets: "127.0.0.9:7000,dns:one.test:7001,dns:two.test:7002",
      logger,
      resolver,
    });
    try {
      await pool.ready();
      assert.deepEqual(pool.replicas, ["127.0.0.8:7001", "127.0.0.9:7000", "[fd00::2]:7002"]);
    } finally {
      pool.close();
    }

    server.zones.set("dark.test", { silent: true });
    const dark = new ShieldPool({
      tls: testTls(PeerRole.Edge),
      targets: "dns:dark.test:7002",
      logger,
      resolver,
    });
    const objects = new ShieldObjectOpener({ pool: dark, logger });
    try {
      await assert.rejects(
        objects.open("bucket", "videos/sample.flv"),
        (error: unknown) =>
          error instanceof EdgeError &&
          error.code === EdgeErrorCode.ShieldUnavailable &&
          /no shield replica is known/.test(error.message),
      );
      assert.deepEqual(dark.replicas, []);
    } finally {
      objects.close();
      dark.close();
    }
  });
});

describe("ShieldTrafficStats", () => {
  test("counts per replica and keeps a bounded number of replicas that left", () => {
    const stats = new ShieldTrafficStats();
    stats.request("a:1", ShieldResult.Ok);
    stats.request("a:1", ShieldResult.Unavailable);
    stats.received("a:1", 100);
    const a = new Map(stats.replicas()).get("a:1");
    assert.equal(a?.requests.ok, 1);
    assert.equal(a?.requests.unavailable, 1);
    assert.equal(a?.bytes, 100);
    for (let i = 0; i < 100; i++) stats.received(`gone-${i}:1`, 1);
    stats.retire(new Set(["a:1"]));
    const left = [...stats.replicas()].map(([r]) => r);
    assert.ok(left.includes("a:1"), "a replica in the set is never dropped");
    assert.equal(left.length, 1 + 64);
    assert.ok(left.includes("gone-99:1") && !left.includes("gone-0:1"), "the oldest go first");
  });
});
