import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
} from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { fromRepoRoot } from "../../lib/testing/paths.js";

/**
 * The offline chart renderer (deploy/helm/renderer/*.go): a close
 * approximation of `helm template` built from Debian's Go packages, for a
 * machine that has no helm. This module builds it once per version of its
 * sources and runs it.
 */

const run = promisify(execFile);

/** Where Debian installs Go library sources (GOPATH layout). */
const defaultDebianGoPath = "/usr/share/gocode";

/** What the build needs, and the Debian package each comes in. */
export const rendererBuildNeeds = [
  { path: "src/github.com/Masterminds/sprig", debianPackage: "golang-github-masterminds-sprig-dev" },
  { path: "src/github.com/Masterminds/semver", debianPackage: "golang-github-masterminds-semver-dev" },
  { path: "src/sigs.k8s.io/yaml", debianPackage: "golang-k8s-sigs-yaml-dev" },
  { path: "src/github.com/xeipuuv/gojsonschema", debianPackage: "golang-github-xeipuuv-gojsonschema-dev" },
] as const;

/** Raised when the renderer cannot be built; the message names what to install. */
export class RendererBuildError extends Error {
  override readonly name = "RendererBuildError";
}

/** Raised when a chart does not render; the message is the renderer's stderr (`Error: ...`). */
export class RenderError extends Error {
  override readonly name = "RenderError";
  readonly stderr: string;

  constructor(message: string, stderr: string, options?: ErrorOptions) {
    super(message, options);
    this.stderr = stderr;
  }
}

export interface RenderOptions {
  /** The chart directory. */
  readonly chartDir: string;
  /** Values files, merged over the chart's values.yaml in this order (`-f`). */
  readonly valuesFiles?: readonly string[];
  /** `--set` arguments, each in Helm's syntax (`a.b=1,c[0]=x`). */
  readonly set?: readonly string[];
  /** `--set-string` arguments. */
  readonly setString?: readonly string[];
  /** `.Release.Namespace`; the renderer's default is "default". */
  readonly namespace?: string;
  /** `.Release.Name`; the renderer's default is "streamfront". */
  readonly releaseName?: string;
  /** `.Capabilities.KubeVersion`; the renderer's default is v1.32.0. */
  readonly kubeVersion?: string;
  /** Extra `.Capabilities.APIVersions` entries (`monitoring.coreos.com/v1`). */
  readonly apiVersions?: readonly string[];
}

export interface RenderedDocument {
  /** The template that made it: `<chart>/templates/<file>`. */
  readonly source: string;
  readonly document: Record<string, unknown>;
}

const sourceDir = fromRepoRoot("deploy", "helm", "renderer");
const defaultCacheRoot = fromRepoRoot("node_modules", ".cache", "streamfront-helm-renderer");
const binaryName = "streamfront-helm-template";

/** The Go sources, by name, which both the build and its cache key use. */
function goSources(): { name: string; text: string }[] {
  return readdirSync(sourceDir)
    .filter((name) => name.endsWith(".go"))
    .sort()
    .map((name) => ({ name, text: readFileSync(join(sourceDir, name), "utf8") }));
}

async function hasGo(): Promise<boolean> {
  try {
    await run("go", ["version"]);
    return true;
  } catch {
    return false;
  }
}

let built: Promise<string> | undefined;

/**
 * The renderer binary's path, building it first when this version of the
 * sources has not been built. The build goes to a private name and is
 * renamed into place, so two processes building at once both end with a
 * whole binary (the second rename replaces the first with an equal file).
 */
export function rendererBinary(): Promise<string> {
  built ??= buildRenderer();
  return built;
}

export interface BuildOptions {
  /** Where built binaries are kept, one folder per hash of the Go sources. */
  readonly cacheRoot?: string;
  /** Where the Debian Go library sources are. */
  readonly debianGoPath?: string;
}

/**
 * Builds the renderer unless this version of its sources is already built,
 * and returns the binary's path. rendererBinary() is this, once per process,
 * with the defaults.
 */
export async function buildRenderer(options: BuildOptions = {}): Promise<string> {
  const cacheRoot = options.cacheRoot ?? defaultCacheRoot;
  const debianGoPath = options.debianGoPath ?? defaultDebianGoPath;
  const sources = goSources();
  const hash = createHash("sha256");
  for (const source of sources) hash.update(`${source.name}\0${source.text}\0`);
  const dir = join(cacheRoot, hash.digest("hex"));
  const binary = join(dir, binaryName);
  if (existsSync(binary)) return binary;

  if (!(await hasGo())) {
    throw new RendererBuildError("the chart renderer needs Go: apt-get install golang-go");
  }
  const missing = rendererBuildNeeds.filter((need) => !existsSync(join(debianGoPath, need.path)));
  if (missing.length > 0) {
    const packages = [...new Set(missing.map((need) => need.debianPackage))].join(" ");
    throw new RendererBuildError(
      `the chart renderer needs Go libraries from Debian (${missing.map((n) => n.path).join(", ")}): apt-get install ${packages}`,
    );
  }

  mkdirSync(dir, { recursive: true });
  // Debian lays sprig and semver out without their /v3 module folder, which
  // GOPATH mode needs to resolve `github.com/Masterminds/sprig/v3`: a
  // private GOPATH entry links the /v3 paths to Debian's folders.
  const goPath = mkdtempSync(join(cacheRoot, "gopath-"));
  const partial = join(dir, `${binaryName}.${process.pid}.${Date.now()}.partial`);
  try {
    for (const name of ["sprig", "semver"]) {
      const parent = join(goPath, "src", "github.com", "Masterminds", name);
      mkdirSync(parent, { recursive: true });
      symlinkSync(join(debianGoPath, "src", "github.com", "Masterminds", name), join(parent, "v3"));
    }
    await run("go", ["build", "-trimpath", "-o", partial, "."], {
      cwd: sourceDir,
      env: {
        ...process.env,
        // GOPATH mode: Debian ships GOPATH-layout sources, and module mode
        // would want go.mod files some of them lack.
        GO111MODULE: "off",
        GOPATH: `${goPath}:${debianGoPath}`,
        GOPROXY: "off",
        GOFLAGS: "",
        // No C compiler is needed (or installed): sprig reaches net, which
        // would otherwise build with cgo.
        CGO_ENABLED: "0",
        // One compile cache for every build folder (go keeps it safe for
        // concurrent builds), so a new source hash rebuilds only this package.
        GOCACHE: join(defaultCacheRoot, "go-build"),
      },
      maxBuffer: 16 * 1024 * 1024,
    });
    renameSync(partial, binary);
  } catch (error) {
    rmSync(partial, { force: true });
    const stderr = (error as { stderr?: string }).stderr ?? "";
    throw new RendererBuildError(`cannot build the chart renderer: ${stderr || (error as Error).message}`, {
      cause: error,
    });
  } finally {
    rmSync(goPath, { recursive: true, force: true });
  }
  return binary;
}

/** The renderer's command line for options (without the output format). */
export function rendererArgs(options: RenderOptions): string[] {
  const args: string[] = [];
  for (const file of options.valuesFiles ?? []) args.push("--values", file);
  for (const s of options.set ?? []) args.push("--set", s);
  for (const s of options.setString ?? []) args.push("--set-string", s);
  if (options.namespace !== undefined) args.push("--namespace", options.namespace);
  if (options.releaseName !== undefined) args.push("--release-name", options.releaseName);
  if (options.kubeVersion !== undefined) args.push("--kube-version", options.kubeVersion);
  for (const gv of options.apiVersions ?? []) args.push("--api-versions", gv);
  args.push(options.chartDir);
  return args;
}

/** Runs the renderer with args; a failed render throws its stderr. */
export async function runRenderer(args: readonly string[]): Promise<string> {
  const binary = await rendererBinary();
  try {
    const { stdout } = await run(binary, [...args], { maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const stderr = String((error as { stderr?: string }).stderr ?? "").trim();
    throw new RenderError(stderr || (error as Error).message, stderr, { cause: error });
  }
}

/** Renders a chart's manifests, in Helm's install order. */
export async function renderChart(options: RenderOptions): Promise<{ documents: RenderedDocument[] }> {
  const stdout = await runRenderer(["--output", "json", ...rendererArgs(options)]);
  return { documents: JSON.parse(stdout) as RenderedDocument[] };
}

/** Renders a chart's templates/NOTES.txt ("" when it has none). */
export async function renderNotes(options: RenderOptions): Promise<string> {
  return runRenderer(["--notes", ...rendererArgs(options)]);
}
