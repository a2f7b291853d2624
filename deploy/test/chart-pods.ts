import { type ChildProcess, execFile, spawn } from "node:child_process";
import { Resolver } from "node:dns/promises";
import { chmodSync, chownSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IEnvVar } from "kubernetes-models/v1/EnvVar";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";

/**
 * Runs the pods a chart renders as local processes, changing as little as a kubelet would: each
 * container's command, arguments and environment as rendered (Kubernetes' $(VAR) expansion, fieldRef
 * and secretKeyRef resolved), its volumes mounted at their mount paths in a private mount namespace,
 * the image's user from the pod's securityContext, a read-only root when the container asks for one,
 * and tini as the image's init. Every pod shares one network namespace made for the test ("the node"),
 * joined to the host by a veth pair, with a dnsmasq that answers the cluster's Service names: the
 * names the chart put in the configuration resolve, nothing is rewritten.
 *
 * What is not as in a cluster, and why: the working directory is the repository (its dist/ is what the
 * image's /app holds, the production-image test checks that assembly); there is no kube-proxy, so a
 * Service name resolves to the pod address itself and Service ports are checked by their targetPort;
 * one replica of each workload runs (the pods share one address, as containers of one pod would).
 */

const run = promisify(execFile);

/** The network the test makes: the host's end and the pods' end of a veth pair. */
export class PodNetwork {
  readonly name: string;
  readonly hostAddress: string;
  readonly podAddress: string;
  readonly #hostLink: string;
  readonly #work: string;
  #dns: ChildProcess | undefined;

  constructor(work: string) {
    this.#work = work;
    const id = process.pid % 10_000;
    this.name = `sfchart-${process.pid}`;
    this.#hostLink = `sfh${id}`;
    const octet = process.pid % 250;
    this.hostAddress = `10.213.${octet}.1`;
    this.podAddress = `10.213.${octet}.2`;
  }

  async create(): Promise<void> {
    const peer = `sfp${process.pid % 10_000}`;
    const steps: string[][] = [
      ["netns", "add", this.name],
      ["link", "add", this.#hostLink, "type", "veth", "peer", "name", peer],
      ["link", "set", peer, "netns", this.name],
      ["addr", "add", `${this.hostAddress}/30`, "dev", this.#hostLink],
      ["link", "set", this.#hostLink, "up"],
      ["-n", this.name, "addr", "add", `${this.podAddress}/30`, "dev", peer],
      ["-n", this.name, "link", "set", peer, "up"],
      ["-n", this.name, "link", "set", "lo", "up"],
    ];
    for (const step of steps) await run("ip", step);
  }

  /** A DNS server in the namespace answering each name with its address (what CoreDNS does for Services). */
  async startDns(records: ReadonlyMap<string, string>): Promise<void> {
    const hosts = join(this.#work, "cluster-dns.hosts");
    writeFileSync(hosts, `${[...records].map(([name, address]) => `${address} ${name}`).join("\n")}\n`);
    this.#dns = spawn(
      "ip",
      [
        "netns",
        "exec",
        this.name,
        "dnsmasq",
        "--keep-in-foreground",
        "--no-resolv",
        "--no-hosts",
        `--addn-hosts=${hosts}`,
        `--listen-address=127.0.0.1,${this.podAddress}`,
        "--bind-interfaces",
        "--port=53",
        "--pid-file=",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    const errors: Buffer[] = [];
    this.#dns.stderr?.on("data", (chunk: Buffer) => errors.push(chunk));
    // dnsmasq is ready when a lookup through it answers (asked from the host, at the pod address).
    const resolver = new Resolver({ timeout: 500, tries: 1 });
    resolver.setServers([this.podAddress]);
    const name = records.keys().next().value as string;
    const until = Date.now() + 10_000;
    for (;;) {
      if (this.#dns.exitCode !== null) throw new Error(`dnsmasq exited: ${Buffer.concat(errors)}`);
      const answer = await resolver.resolve4(name).catch(() => undefined);
      if (answer?.length) break;
      if (Date.now() > until)
        throw new Error(`dnsmasq in the pod network did not answer: ${Buffer.concat(errors)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async destroy(): Promise<void> {
    this.#dns?.kill("SIGTERM");
    await run("ip", ["netns", "del", this.name]).catch(() => undefined);
    await run("ip", ["link", "del", this.#hostLink]).catch(() => undefined);
  }
}

/** The /etc/resolv.conf of a pod in `namespace` (what the kubelet writes for dnsPolicy ClusterFirst). */
export function podResolvConf(namespace: string, clusterDomain = "cluster.local"): string {
  return [
    `search ${namespace}.svc.${clusterDomain} svc.${clusterDomain} ${clusterDomain}`,
    "nameserver 127.0.0.1",
    "options ndots:5",
    "",
  ].join("\n");
}

/** Top-level folders a mount path may be under: overlaid in the pod's mount namespace, never touched on the host. */
const overlayable = ["/etc", "/var", "/opt", "/srv", "/mnt", "/home", "/run"] as const;

/** Secrets as the cluster holds them: name → key → decoded bytes. */
export type SecretStore = ReadonlyMap<string, ReadonlyMap<string, Buffer>>;

/** One container of a rendered pod, resolved to what a process needs. */
export interface ResolvedContainer {
  readonly pod: string;
  readonly container: string;
  /** The program and its arguments: command (or the image's ENTRYPOINT) + args (or CMD). */
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** The variables the rendered container sets, in order. */
  readonly envNames: readonly string[];
  /** mountPath → host folder. */
  readonly mounts: ReadonlyMap<string, { readonly source: string; readonly readOnly: boolean }>;
  readonly uid: number;
  readonly gid: number;
  readonly fsGroup: number | undefined;
  readonly readOnlyRoot: boolean;
}

/** Kubernetes' expansion of $(VAR) in env values, command and args: defined names only; $$ escapes. */
export function expandVariables(text: string, defined: Readonly<Record<string, string>>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name: string | undefined) => {
    if (match === "$$") return "$";
    return name !== undefined && name in defined ? (defined[name] as string) : match;
  });
}

export interface ImageDefaults {
  readonly entrypoint: readonly string[];
  readonly cmd: readonly string[];
}

/** ENTRYPOINT and CMD (exec form) of a Dockerfile's last stage. */
export function dockerfileDefaults(dockerfile: string): ImageDefaults {
  const lastStage = dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));
  const form = (instruction: string): string[] => {
    const line = lastStage.split("\n").find((l) => l.startsWith(`${instruction} `));
    if (!line) return [];
    return JSON.parse(line.slice(instruction.length + 1)) as string[];
  };
  return { entrypoint: form("ENTRYPOINT"), cmd: form("CMD") };
}

export interface ResolveOptions {
  readonly podName: string;
  readonly podAddress: string;
  readonly namespace: string;
  readonly secrets: SecretStore;
  /** The image's ENTRYPOINT/CMD, for a container that sets no command (the streamfront image). */
  readonly image?: ImageDefaults;
  /** Where this pod's volumes live on the host. */
  readonly volumeRoot: string;
}

function envValue(entry: IEnvVar, options: ResolveOptions, defined: Record<string, string>): string {
  if (entry.value !== undefined) return expandVariables(entry.value, defined);
  const from = entry.valueFrom;
  if (from?.fieldRef) {
    const field = from.fieldRef.fieldPath;
    if (field === "metadata.name") return options.podName;
    if (field === "metadata.namespace") return options.namespace;
    if (field === "status.podIP") return options.podAddress;
    throw new Error(`env ${entry.name}: fieldRef ${field} is not simulated`);
  }
  if (from?.secretKeyRef) {
    const { name, key } = from.secretKeyRef;
    const value = options.secrets.get(name ?? "")?.get(key);
    if (value === undefined) throw new Error(`env ${entry.name}: no Secret ${name} with key ${key}`);
    return value.toString("utf8");
  }
  if (entry.valueFrom === undefined) return "";
  throw new Error(`env ${entry.name}: this valueFrom is not simulated`);
}

/**
 * A rendered pod's container, resolved: the kubelet's part (environment, volumes with the pod's
 * fsGroup, secrets as files) done into host folders under volumeRoot.
 */
export function resolveContainer(
  pod: IPodSpec,
  container: IContainer,
  options: ResolveOptions,
): ResolvedContainer {
  const env: Record<string, string> = {};
  const envNames: string[] = [];
  for (const entry of container.env ?? []) {
    env[entry.name] = envValue(entry, options, env);
    envNames.push(entry.name);
  }
  const security = pod.securityContext ?? {};
  const uid = container.securityContext?.runAsUser ?? security.runAsUser ?? 0;
  const gid = container.securityContext?.runAsGroup ?? security.runAsGroup ?? 0;
  const fsGroup = security.fsGroup;
  const mounts = new Map<string, { source: string; readOnly: boolean }>();
  const volumes = new Map((pod.volumes ?? []).map((v) => [v.name, v]));
  for (const mount of container.volumeMounts ?? []) {
    const source = join(options.volumeRoot, mount.name);
    mkdirSync(source, { recursive: true });
    const volume = volumes.get(mount.name);
    const group = fsGroup ?? gid;
    if (volume?.secret) {
      const secretName = volume.secret.secretName ?? "";
      const data = options.secrets.get(secretName);
      if (data === undefined) throw new Error(`volume ${mount.name}: no Secret ${secretName}`);
      for (const [key, bytes] of data) {
        const file = join(source, key);
        writeFileSync(file, bytes);
        chownSync(file, 0, group);
        chmodSync(file, volume.secret.defaultMode ?? 0o644);
      }
      chmodSync(source, 0o755);
    } else {
      // emptyDir, or a claim of a volumeClaimTemplate: an empty folder the pod's group may write.
      chownSync(source, uid, group);
      chmodSync(source, 0o2775);
    }
    mounts.set(mount.mountPath, { source, readOnly: mount.readOnly === true });
  }
  const command = container.command ?? options.image?.entrypoint ?? [];
  const args = container.args ?? (container.command ? [] : (options.image?.cmd ?? []));
  const unmountable = [...mounts].filter(
    ([path]) => !overlayable.some((t) => path === t || path.startsWith(`${t}/`)),
  );
  const argv = [...command, ...args]
    .map((part) => expandVariables(part, env))
    .map((part) => unmountable.reduce((text, [path, { source }]) => (text === path ? source : text), part));
  if (argv.length === 0) throw new Error(`${container.name}: no command`);
  return {
    pod: options.podName,
    container: container.name,
    argv,
    env,
    envNames,
    mounts,
    uid,
    gid,
    fsGroup,
    readOnlyRoot: container.securityContext?.readOnlyRootFilesystem === true,
  };
}

/**
 * The shell that sets a pod's file system up in its private mount namespace, then becomes the
 * container: overlays over the host's /etc and /var (their changes stay in the pod's folders), the
 * pod's resolv.conf, each volume bound at its mount path, the root read-only if asked, then the
 * image's user (setpriv) and the command.
 */
function setupScript(c: ResolvedContainer, podRoot: string, resolvConf: string): string {
  const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  const lines = ["set -e"];
  const tops = new Set<string>(["/etc"]);
  for (const path of c.mounts.keys()) {
    const top = overlayable.find((t) => path === t || path.startsWith(`${t}/`));
    if (top !== undefined) tops.add(top);
  }
  for (const top of tops) {
    const name = top.slice(1);
    const upper = join(podRoot, "overlay", name, "upper");
    const workDir = join(podRoot, "overlay", name, "work");
    mkdirSync(upper, { recursive: true });
    mkdirSync(workDir, { recursive: true });
    lines.push(
      `mount -t overlay overlay -o ${quote(`lowerdir=${top},upperdir=${upper},workdir=${workDir}`)} ${top}`,
    );
  }
  const resolv = join(podRoot, "resolv.conf");
  writeFileSync(resolv, resolvConf);
  lines.push(`rm -f /etc/resolv.conf && cp ${quote(resolv)} /etc/resolv.conf && chmod 0644 /etc/resolv.conf`);
  for (const [path, { source, readOnly }] of c.mounts) {
    // A top-level path the host lacks (the Redis image's /data) cannot get a mount point without
    // creating it on the host: resolveContainer pointed the command at the folder itself instead,
    // which is bound onto itself so that it stays writable under a read-only root.
    const target = overlayable.some((t) => path === t || path.startsWith(`${t}/`)) ? path : source;
    if (target === path) lines.push(`mkdir -p ${quote(path)}`);
    lines.push(`mount --bind ${quote(source)} ${quote(target)}`);
    if (readOnly) lines.push(`mount -o remount,bind,ro ${quote(target)}`);
  }
  if (c.readOnlyRoot) {
    lines.push("mount -o remount,bind,ro /");
    for (const top of tops) lines.push(`mount -o remount,ro ${top}`);
  }
  const groups = c.fsGroup !== undefined ? `--groups=${c.fsGroup}` : "--clear-groups";
  lines.push(`exec setpriv --reuid=${c.uid} --regid=${c.gid} ${groups} --inh-caps=-all -- "$@"`);
  return lines.join("\n");
}

export interface StartOptions {
  readonly network: PodNetwork;
  readonly podRoot: string;
  readonly resolvConf: string;
  readonly cwd: string;
  /** Arguments after the container's own (e.g. --check-config). */
  readonly extraArgs?: readonly string[];
}

/** Starts a resolved container in the pod network; its output goes to `<podRoot>/<container>.log`. */
export function startContainer(c: ResolvedContainer, options: StartOptions): ChildProcess {
  mkdirSync(options.podRoot, { recursive: true });
  const script = setupScript(c, options.podRoot, options.resolvConf);
  const child = spawn(
    "ip",
    [
      "netns",
      "exec",
      options.network.name,
      "unshare",
      "--mount",
      "--propagation",
      "private",
      "sh",
      "-c",
      script,
      "sh",
      ...c.argv,
      ...(options.extraArgs ?? []),
    ],
    {
      cwd: options.cwd,
      // The container's environment only, as a kubelet gives it (plus PATH and HOME, as images have).
      env: { PATH: "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", HOME: "/tmp", ...c.env },
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group: tini and the node it runs end together (stopContainer).
      detached: true,
    },
  );
  const log: Buffer[] = [];
  child.stdout?.on("data", (chunk: Buffer) => log.push(chunk));
  child.stderr?.on("data", (chunk: Buffer) => log.push(chunk));
  child.once("exit", () => writeFileSync(join(options.podRoot, `${c.container}.log`), Buffer.concat(log)));
  Object.defineProperty(child, "output", { get: () => Buffer.concat(log).toString("utf8") });
  return child;
}

/**
 * Stops a started container as the kubelet does: SIGTERM (tini forwards it), then after the grace
 * period SIGKILL to its whole process group, so nothing it started outlives the test.
 */
export async function stopContainer(child: ChildProcess, graceMs = 10_000): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return child.exitCode;
  const pid = child.pid;
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  process.kill(-pid, "SIGTERM");
  const timer = setTimeout(() => {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }, graceMs);
  const code = await exited;
  clearTimeout(timer);
  try {
    // Whatever of the group is left (an orphan of tini's child) goes too.
    process.kill(-pid, "SIGKILL");
  } catch {
    // The group is empty.
  }
  return code;
}

/** What a started container has written so far (stdout and stderr). */
export function outputOf(child: ChildProcess): string {
  return (child as ChildProcess & { output?: string }).output ?? "";
}

/** Runs a resolved container to its end: exit code and output (for --check-config and exec probes). */
export async function runContainer(
  c: ResolvedContainer,
  options: StartOptions,
  timeoutMs = 30_000,
): Promise<{ code: number | null; output: string }> {
  const child = startContainer(c, options);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (status) => resolve(status)));
  const timer = setTimeout(() => void stopContainer(child, 0), timeoutMs);
  const code = await exited;
  clearTimeout(timer);
  return { code, output: outputOf(child) };
}
