import { spawnSync } from "node:child_process";
import { existsSync, rmSync, writeFileSync } from "node:fs";

/**
 * The system tools `npm run bench:edge` drives and the Debian package each
 * comes in: ffmpeg makes the test media, nginx with libnginx-mod-rtmp is the
 * peer the edge is measured against. Same pattern as
 * lib/testing/ensure-system-tools.ts, kept apart because the tests do not
 * need nginx: a missing tool is installed (as root on Debian) or named.
 */
const benchTools = [
  { what: "ffmpeg", check: () => has("ffmpeg"), debianPackage: "ffmpeg" },
  { what: "nginx", check: () => has("nginx"), debianPackage: "nginx" },
  {
    what: "nginx RTMP module",
    check: () => findRtmpModule() !== null,
    debianPackage: "libnginx-mod-rtmp",
  },
] as const;

/** Where Debian's libnginx-mod-rtmp puts the dynamic module (checked in order). */
const rtmpModulePaths = [
  "/usr/lib/nginx/modules/ngx_rtmp_module.so",
  "/usr/share/nginx/modules/ngx_rtmp_module.so",
];

export function findRtmpModule(): string | null {
  return rtmpModulePaths.find((path) => existsSync(path)) ?? null;
}

function has(command: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status === 0;
}

function run(command: string, args: string[]): void {
  process.stdout.write(`bench: ${command} ${args.join(" ")}\n`);
  const result = spawnSync(command, args, {
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} exited with ${result.status}`);
}

/**
 * Installs whatever is missing with apt-get when running as root on Debian;
 * otherwise throws naming the packages to install.
 */
export function ensureBenchTools(): void {
  const missing = benchTools.filter((tool) => !tool.check());
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map((tool) => tool.debianPackage))];
  const names = missing.map((tool) => tool.what).join(", ");
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  if (!isRoot || !existsSync("/etc/debian_version") || !has("apt-get")) {
    throw new Error(
      `missing ${names}: the edge benchmark needs them. Install the Debian packages: apt-get install ${packages.join(" ")}`,
    );
  }
  // Debian's nginx package starts the system nginx (port 80) from its
  // postinst; the benchmark runs its own, so service starts are refused for
  // the install unless the machine already has a policy in place.
  const policy = "/usr/sbin/policy-rc.d";
  const ownPolicy = !existsSync(policy);
  if (ownPolicy) writeFileSync(policy, "#!/bin/sh\nexit 101\n", { mode: 0o755 });
  try {
    run("apt-get", ["update", "-qq"]);
    run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...packages]);
  } finally {
    if (ownPolicy) rmSync(policy, { force: true });
  }
  const still = missing.filter((tool) => !tool.check());
  if (still.length > 0)
    throw new Error(`still missing after apt-get: ${still.map((tool) => tool.what).join(", ")}`);
}
