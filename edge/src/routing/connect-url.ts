/** What a connect command's tcUrl and app tell the edge. */
export interface ConnectTarget {
  /** Lower-case host without port: picks the distribution. */
  readonly host: string;
  /** The connect-string query, kept for the logs. */
  readonly query: string;
  /**
   * What the application name carries past `cfx/st/`: the start of every
   * play name on this connection ("" for `cfx/st` and `cfx/st/_definst_`).
   * Players that split a URL at its last slash (GStreamer's rtmp2src) or
   * after its fourth path segment (librtmp: rtmpdump, rtmpsrc, VLC) put the
   * key's folders here: `rtmp://h/cfx/st/videos/clip` connects to app
   * `cfx/st/videos` and plays `clip`. Still percent-encoded as sent; the
   * stream-name mapping decodes it with the name.
   */
  readonly streamPrefix: string;
}

export const ConnectProblem = {
  /** tcUrl is missing or not a URL. */
  InvalidURI: "InvalidURI",
  /** The application/instance is not cfx/st. */
  InvalidInstance: "InvalidInstance",
} as const;
export type ConnectProblem = (typeof ConnectProblem)[keyof typeof ConnectProblem];

/** Longest tcUrl or app accepted: a URL of a 1024-byte key and its signed query fits. */
const maxLength = 2048;

/**
 * Reads the connect command's `tcUrl` (rtmp://host[:port]/cfx/st[/prefix][?query])
 * and `app`. CloudFront's only application was `cfx` with instance `st`;
 * what follows `cfx/st/` is the front of the play name (see streamPrefix),
 * `_definst_` (FMS's default instance) naming none. Anything else is
 * InvalidInstance, and a tcUrl that is not a URL is InvalidURI.
 */
export function parseConnectTarget(tcUrl: unknown, app: unknown): ConnectTarget | ConnectProblem {
  if (typeof tcUrl !== "string" || tcUrl.length === 0 || tcUrl.length > maxLength)
    return ConnectProblem.InvalidURI;
  const match =
    /^(rtmp|rtmpt|rtmpe|rtmpte|rtmps):\/\/(\[[^\]]+\]|[^/:?]+)(?::(\d{1,5}))?(\/[^?]*)?(?:\?(.*))?$/i.exec(
      tcUrl.trim(),
    );
  if (!match) return ConnectProblem.InvalidURI;
  const host = match[2]!.toLowerCase();
  const query = match[5] ?? "";
  let appName = typeof app === "string" ? app : "";
  if (appName.length > maxLength) return ConnectProblem.InvalidInstance;
  // Some players leave `app` empty and carry it only in the tcUrl path.
  if (appName.length === 0) appName = (match[4] ?? "").replace(/^\/+/, "");
  appName = appName.split("?")[0]!.replace(/\/+$/, "");
  if (appName === "cfx/st") return { host, query, streamPrefix: "" };
  if (!appName.startsWith("cfx/st/")) return ConnectProblem.InvalidInstance;
  let prefix = appName.slice("cfx/st/".length);
  // FMS's default instance, alone or (a player that names it) before the folders.
  if (prefix === "_definst_") prefix = "";
  else if (prefix.startsWith("_definst_/")) prefix = prefix.slice("_definst_/".length);
  prefix = prefix.replace(/^\/+/, "");
  return { host, query, streamPrefix: prefix };
}
