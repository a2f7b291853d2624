/** What a connect command's tcUrl and app tell the edge. */
export interface ConnectTarget {
  /** Lower-case host without port: picks the distribution. */
  readonly host: string;
  /** The connect-string query, kept for the logs. */
  readonly query: string;
}

export const ConnectProblem = {
  /** tcUrl is missing or not a URL. */
  InvalidURI: "InvalidURI",
  /** The application/instance is not cfx/st. */
  InvalidInstance: "InvalidInstance",
} as const;
export type ConnectProblem = (typeof ConnectProblem)[keyof typeof ConnectProblem];

const validApps = new Set(["cfx/st", "cfx/st/_definst_"]);

/**
 * Reads the connect command's `tcUrl` (rtmp://host[:port]/cfx/st[?query])
 * and `app`. CloudFront's only application was `cfx` with instance `st`;
 * anything else is InvalidInstance, and a tcUrl that is not a URL is
 * InvalidURI.
 */
export function parseConnectTarget(tcUrl: unknown, app: unknown): ConnectTarget | ConnectProblem {
  if (typeof tcUrl !== "string" || tcUrl.length === 0 || tcUrl.length > 2048)
    return ConnectProblem.InvalidURI;
  const match =
    /^(rtmp|rtmpt|rtmpe|rtmpte|rtmps):\/\/(\[[^\]]+\]|[^/:?]+)(?::(\d{1,5}))?(\/[^?]*)?(?:\?(.*))?$/i.exec(
      tcUrl.trim(),
    );
  if (!match) return ConnectProblem.InvalidURI;
  const host = match[2]!.toLowerCase();
  const query = match[5] ?? "";
  let appName = typeof app === "string" ? app : "";
  // Some players leave `app` empty and carry it only in the tcUrl path.
  if (appName.length === 0) appName = (match[4] ?? "").replace(/^\/+/, "");
  appName = appName.split("?")[0]!.replace(/\/+$/, "");
  if (!validApps.has(appName)) return ConnectProblem.InvalidInstance;
  return { host, query };
}
