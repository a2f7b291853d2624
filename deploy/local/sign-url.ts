import { createHash, createPublicKey, generateKeyPairSync } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  CloudFrontClient,
  CreatePublicKeyCommand,
  GetStreamingDistributionCommand,
  GetStreamingDistributionConfigCommand,
  ListPublicKeysCommand,
  ListStreamingDistributionsCommand,
  UpdateStreamingDistributionCommand,
} from "@aws-sdk/client-cloudfront";
import { getSignedUrl } from "@aws-sdk/cloudfront-signer";
import { boolean, integer, port, text, url } from "../../lib/config/schemas.js";
import { ConfigError, formatHelp, loadConfig, setting, wantsHelp } from "../../lib/config/settings.js";
import { errorMessage } from "../../lib/errors.js";
import { repoRoot } from "../../lib/testing/paths.js";
import { readApiKeys } from "./state-dir.js";

/**
 * `npm run sign-url -- --name videos/sample`: against the cluster `npm
 * start` runs, makes (once) an RSA key pair in the state folder, registers
 * its public key through the control API (CreatePublicKey, idempotent by
 * CallerReference), optionally turns on TrustedSigners Self on the
 * distribution (--private), and prints a signed play URL and the commands
 * that play it — what an operator of private content does, in one step.
 */
export const signUrlSettings = {
  name: setting({
    env: "STREAMFRONT_SIGN_NAME",
    flag: "name",
    doc: "The stream name to sign, as a player plays it (videos/sample, mp4:videos/sample.mp4, mp3:audio/sample).",
    schema: text({ min: 1, max: 1024 }),
    default: "videos/sample",
  }),
  minutes: setting({
    env: "STREAMFRONT_SIGN_MINUTES",
    flag: "minutes",
    doc: "How long the URL is valid, from now.",
    schema: integer(1, 525_600),
    default: 60,
  }),
  private: setting({
    env: "STREAMFRONT_SIGN_PRIVATE",
    flag: "private",
    doc: "true: also turn on TrustedSigners (Self) on the distribution, so unsigned plays are refused; false: leave it as it is.",
    schema: boolean(),
    default: false,
  }),
  stateDir: setting({
    env: "STREAMFRONT_LOCAL_STATE_DIR",
    flag: "state-dir",
    doc: "npm start's state folder (its control API keys; the signing key is kept there as signing-key.pem).",
    schema: text({ min: 1, max: 4096 }),
    default: ".streamfront",
  }),
  apiUrl: setting({
    env: "STREAMFRONT_SIGN_API_URL",
    flag: "api-url",
    doc: "The control API npm start printed (--endpoint-url).",
    schema: url(),
    default: "http://127.0.0.1:7003",
  }),
  host: setting({
    env: "STREAMFRONT_LOCAL_HOST",
    flag: "host",
    doc: "The distribution's host (npm start's --host, its CNAME) in the printed URL.",
    schema: text({ min: 1, max: 253 }),
    default: "localhost",
  }),
  rtmpPort: setting({
    env: "STREAMFRONT_LOCAL_RTMP_PORT",
    flag: "rtmp-port",
    doc: "The edge's RTMP port in the printed URL.",
    schema: port(),
    default: 1935,
  }),
} as const;

type SignUrlConfig = ReturnType<typeof loadConfig<typeof signUrlSettings>>;

export interface SignedPlay {
  readonly keyPairId: string;
  readonly distributionId: string;
  /** The play name with its signed query, as rtmpdump -y takes it. */
  readonly playName: string;
  /** rtmp://host:port/cfx/st/<playName>, as ffmpeg takes it. */
  readonly url: string;
  readonly expires: Date;
  readonly madePrivate: boolean;
}

export async function signUrl(config: SignUrlConfig): Promise<SignedPlay> {
  const stateDir = resolve(repoRoot, config.stateDir);
  const keys = await readApiKeys(stateDir);
  const client = new CloudFrontClient({
    endpoint: config.apiUrl,
    region: "us-east-1",
    credentials: { accessKeyId: keys.accessKeyId, secretAccessKey: keys.secretAccessKey },
    maxAttempts: 2,
  });
  try {
    const { privatePem, publicPem } = await signingKey(join(stateDir, "signing-key.pem"));
    const keyPairId = await registerPublicKey(client, publicPem);
    const distributionId = await distributionFor(client, config.host);
    const madePrivate = config.private && (await makePrivate(client, distributionId));
    const expires = new Date(Date.now() + config.minutes * 60_000);
    // The official signer's RTMP form: rtmp://<host>/<stream name> gives the name with its query. The
    // Resource signed is the name without mp4:/mp3: (CloudFront's documented rule), so the prefix goes
    // back on after signing, readable as it was given.
    const prefix = /^(mp4|mp3|flv):/i.exec(config.name)?.[0] ?? "";
    const playName = `${prefix}${getSignedUrl({
      url: `rtmp://${config.host}/${config.name.slice(prefix.length)}`,
      keyPairId,
      privateKey: privatePem,
      dateLessThan: expires.toISOString(),
    })}`;
    const urlText = `rtmp://${config.host}:${config.rtmpPort}/cfx/st/${playName}`;
    return { keyPairId, distributionId, playName, url: urlText, expires, madePrivate };
  } finally {
    client.destroy();
  }
}

/** The key pair kept in the state folder (mode 0600), made the first time. */
async function signingKey(file: string): Promise<{ privatePem: string; publicPem: string }> {
  let privatePem: string;
  try {
    privatePem = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    privatePem = privateKey.export({ type: "pkcs8", format: "pem" }) as string;
    await writeFile(file, privatePem, { mode: 0o600, flag: "wx" }).catch(async (e: NodeJS.ErrnoException) => {
      if (e.code !== "EEXIST") throw e;
      privatePem = await readFile(file, "utf8");
    });
  }
  const publicPem = createPublicKey(privatePem).export({ type: "spki", format: "pem" }) as string;
  return { privatePem, publicPem };
}

/** CreatePublicKey, idempotent: the same key always has the same CallerReference, which answers the original. */
async function registerPublicKey(client: CloudFrontClient, publicPem: string): Promise<string> {
  const fingerprint = createHash("sha256").update(publicPem).digest("hex").slice(0, 32);
  try {
    const created = await client.send(
      new CreatePublicKeyCommand({
        PublicKeyConfig: {
          CallerReference: `streamfront-sign-url-${fingerprint}`,
          Name: `sign-url-${fingerprint.slice(0, 16)}`,
          EncodedKey: publicPem,
          Comment: "made by npm run sign-url",
        },
      }),
    );
    const id = created.PublicKey?.Id;
    if (id) return id;
  } catch (error) {
    if ((error as { name?: string }).name !== "PublicKeyAlreadyExists") throw error;
  }
  // Registered before under another reference: find it by its key.
  const list = await client.send(new ListPublicKeysCommand({ MaxItems: 100 }));
  const found = list.PublicKeyList?.Items?.find((k) => k.EncodedKey?.trim() === publicPem.trim());
  if (!found?.Id) throw new Error("the control API neither created nor lists the signing key");
  return found.Id;
}

/** The streaming distribution whose CNAMEs include host (npm start's demo distribution), else the only one. */
async function distributionFor(client: CloudFrontClient, host: string): Promise<string> {
  const list = await client.send(new ListStreamingDistributionsCommand({ MaxItems: 100 }));
  const items = list.StreamingDistributionList?.Items ?? [];
  const match = items.find((d) => d.Aliases?.Items?.some((a) => a.toLowerCase() === host.toLowerCase()));
  const chosen = match ?? (items.length === 1 ? items[0] : undefined);
  if (!chosen?.Id) throw new Error(`no streaming distribution has the CNAME ${host} (--host)`);
  return chosen.Id;
}

/** Turns on TrustedSigners Self and waits for Deployed (the edges apply it). False when it already was. */
async function makePrivate(client: CloudFrontClient, id: string): Promise<boolean> {
  const current = await client.send(new GetStreamingDistributionConfigCommand({ Id: id }));
  const config = current.StreamingDistributionConfig;
  if (!config) throw new Error(`no config for ${id}`);
  const signers = config.TrustedSigners;
  if (signers?.Enabled && signers.Items?.includes("self")) return false;
  await client.send(
    new UpdateStreamingDistributionCommand({
      Id: id,
      IfMatch: current.ETag,
      StreamingDistributionConfig: {
        ...config,
        TrustedSigners: { Enabled: true, Quantity: 1, Items: ["self"] },
      },
    }),
  );
  for (let attempt = 0; attempt < 100; attempt++) {
    const got = await client.send(new GetStreamingDistributionCommand({ Id: id }));
    if (got.StreamingDistribution?.Status === "Deployed") return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${id} did not reach Deployed within 10 s: are the edges running?`);
}

async function main(): Promise<void> {
  const usage =
    "usage: npm run sign-url -- [--name videos/sample] [--minutes 60] [--private true] [--setting value]…";
  if (wantsHelp(process.argv.slice(2))) {
    process.stdout.write(formatHelp(signUrlSettings, usage));
    return;
  }
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  let config: SignUrlConfig;
  try {
    config = loadConfig(signUrlSettings, { env: process.env, argv: process.argv.slice(2) });
  } catch (error) {
    process.stderr.write(`sign-url: ${errorMessage(error)}\n`);
    process.exitCode = error instanceof ConfigError ? 2 : 1;
    return;
  }
  try {
    const signed = await signUrl(config);
    process.stdout.write(
      [
        `Public key ${signed.keyPairId} is registered (the control API's CreatePublicKey); distribution ${signed.distributionId}${signed.madePrivate ? " now refuses unsigned plays (TrustedSigners Self)" : ""}.`,
        `Signed play URL, valid until ${signed.expires.toISOString()}:`,
        `  ${signed.url}`,
        "Play it:",
        `  ffplay "${signed.url}"`,
        `  rtmpdump -r "rtmp://${config.host}:${config.rtmpPort}/cfx/st/" -y "${signed.playName}" -o out.flv`,
        "",
      ].join("\n"),
    );
  } catch (error) {
    process.stderr.write(`sign-url: ${errorMessage(error)}\n`);
    process.exitCode = 1;
  }
}

// Run as a program (npm run sign-url), not when a test imports signUrl.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url))
  await main();
