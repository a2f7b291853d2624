import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

/**
 * The system tools the tests drive, and the Debian package each comes in.
 * Tests use real RTMP clients, never stand-ins, so a missing tool is
 * installed here (as root on Debian) or named in a failure; it is never a
 * reason to skip a test.
 */
const requiredTools = [
  { command: "ffmpeg", debianPackage: "ffmpeg" },
  { command: "ffprobe", debianPackage: "ffmpeg" },
  { command: "rtmpdump", debianPackage: "rtmpdump" },
  // The Redis store tests run a real server (lib/testing/redis-server.ts).
  { command: "redis-server", debianPackage: "redis-server" },
  // The alert rules' checks and unit tests (deploy/test/alert-rules); the package ships prometheus too.
  { command: "promtool", debianPackage: "prometheus" },
  // A real Prometheus scraping a cluster runs every dashboard query (deploy/test/dashboards-prometheus).
  { command: "prometheus", debianPackage: "prometheus" },
  // The test PKI and npm start's development CA (lib/grpc/dev-pki.ts); the signed-URL tests sign with it too.
  { command: "openssl", debianPackage: "openssl" },
  // GStreamer players (the viewer-clients test in edge/test).
  { command: "gst-launch-1.0", debianPackage: "gstreamer1.0-tools" },
  { command: "gst-inspect-1.0", debianPackage: "gstreamer1.0-tools" },
  { command: "gst-discoverer-1.0", debianPackage: "gstreamer1.0-plugins-base-apps" },
  // The offline chart renderer (deploy/helm/renderer) is Go, built on first use.
  { command: "go", debianPackage: "golang-go" },
  // The chart-against-code test (deploy/test/helm-against-code) runs the rendered pods in a network
  // namespace of its own (ip, unshare, setpriv) with a cluster DNS (dnsmasq) and the image's init (tini).
  { command: "ip", debianPackage: "iproute2" },
  { command: "unshare", debianPackage: "util-linux" },
  { command: "setpriv", debianPackage: "util-linux" },
  { command: "dnsmasq", debianPackage: "dnsmasq-base" },
  { command: "tini", debianPackage: "tini" },
] as const;

/**
 * Library sources the chart renderer builds against (Debian's GOPATH
 * layout under /usr/share/gocode), checked by presence: a Go library
 * package installs files, not a command.
 */
const requiredFiles = [
  {
    path: "/usr/share/gocode/src/github.com/Masterminds/sprig",
    debianPackage: "golang-github-masterminds-sprig-dev",
  },
  {
    path: "/usr/share/gocode/src/github.com/Masterminds/semver",
    debianPackage: "golang-github-masterminds-semver-dev",
  },
  { path: "/usr/share/gocode/src/sigs.k8s.io/yaml", debianPackage: "golang-k8s-sigs-yaml-dev" },
  {
    path: "/usr/share/gocode/src/github.com/xeipuuv/gojsonschema",
    debianPackage: "golang-github-xeipuuv-gojsonschema-dev",
  },
] as const;

/**
 * GStreamer elements the tests build pipelines from, and the package of
 * each: a missing plugin fails here, loudly, rather than as a pipeline that
 * cannot link.
 */
const requiredGstElements = [
  { element: "rtmp2src", debianPackage: "gstreamer1.0-plugins-bad" },
  { element: "rtmpsrc", debianPackage: "gstreamer1.0-plugins-bad" },
  { element: "flvdemux", debianPackage: "gstreamer1.0-plugins-good" },
  { element: "filesink", debianPackage: "gstreamer1.0-plugins-base" },
  { element: "avdec_h264", debianPackage: "gstreamer1.0-libav" },
] as const;

function hasElement(element: string): boolean {
  return spawnSync("gst-inspect-1.0", ["--exists", element], { stdio: "ignore" }).status === 0;
}

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

function ensureSystemTools(): void {
  const missing = [
    ...requiredTools.filter((tool) => !has(tool.command)),
    ...(has("gst-inspect-1.0")
      ? requiredGstElements.filter((e) => !hasElement(e.element))
      : requiredGstElements),
    ...requiredFiles.filter((f) => !existsSync(f.path)),
  ].map((t) => ({
    name: "command" in t ? t.command : "element" in t ? `GStreamer element ${t.element}` : t.path,
    debianPackage: t.debianPackage,
  }));
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map((tool) => tool.debianPackage))];
  const names = missing.map((tool) => tool.name).join(", ");
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  if (!isRoot || !existsSync("/etc/debian_version") || !has("apt-get")) {
    throw new Error(
      `missing ${names}: the tests need them. Install the Debian packages: apt-get install ${packages.join(" ")}`,
    );
  }
  run("apt-get", ["update", "-qq"]);
  run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...packages]);
  const still = [
    ...requiredTools.filter((tool) => !has(tool.command)).map((t) => t.command),
    ...requiredGstElements.filter((e) => !hasElement(e.element)).map((e) => `GStreamer element ${e.element}`),
    ...requiredFiles.filter((f) => !existsSync(f.path)).map((f) => f.path),
  ];
  if (still.length > 0) throw new Error(`still missing after apt-get: ${still.join(", ")}`);
}

try {
  ensureSystemTools();
} catch (error) {
  process.stderr.write(`ensure-system-tools: ${(error as Error).message}\n`);
  process.exit(1);
}
