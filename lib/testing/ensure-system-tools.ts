import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

/**
 * The system tools the tests drive, and the Debian package each comes in.
 * Tests use real RTMP clients, never stand-ins, so a missing tool is
 * installed here (as root on Debian) or named in a failure; it is never a
 * reason to skip a test.
 */
export const requiredTools = [
  { command: "ffmpeg", debianPackage: "ffmpeg" },
  { command: "ffprobe", debianPackage: "ffmpeg" },
  { command: "rtmpdump", debianPackage: "rtmpdump" },
  // The Redis store tests run a real server (lib/testing/redis-server.ts).
  { command: "redis-server", debianPackage: "redis-server" },
] as const;

function has(command: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status === 0;
}

function run(command: string, args: string[]): void {
  process.stdout.write(`ensure-system-tools: ${command} ${args.join(" ")}\n`);
  const result = spawnSync(command, args, {
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} exited with ${result.status}`);
}

export function ensureSystemTools(): void {
  const missing = requiredTools.filter((tool) => !has(tool.command));
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map((tool) => tool.debianPackage))];
  const names = missing.map((tool) => tool.command).join(", ");
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  if (!isRoot || !existsSync("/etc/debian_version") || !has("apt-get")) {
    throw new Error(
      `missing ${names}: the tests need them. Install the Debian packages: apt-get install ${packages.join(" ")}`,
    );
  }
  run("apt-get", ["update", "-qq"]);
  run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...packages]);
  const still = missing.filter((tool) => !has(tool.command));
  if (still.length > 0)
    throw new Error(`still missing after apt-get: ${still.map((t) => t.command).join(", ")}`);
}

try {
  ensureSystemTools();
} catch (error) {
  process.stderr.write(`ensure-system-tools: ${(error as Error).message}\n`);
  process.exit(1);
}
