/**
 * CloudFront's RTMP access-log format (W3C extended): the header lines and
 * one tab-separated line per playback event, the 17 fields in CloudFront's
 * order. Pure: records in, text out.
 */

export const accessLogFields = [
  "date",
  "time",
  "x-edge-location",
  "c-ip",
  "x-event",
  "sc-bytes",
  "x-cf-status",
  "x-cf-client-id",
  "cs-uri-stem",
  "cs-uri-query",
  "c-referrer",
  "x-page-url",
  "c-user-agent",
  "x-sname",
  "x-sname-query",
  "x-file-ext",
  "x-sid",
] as const;

/** The two lines every log file starts with. */
export const accessLogHeader = `#Version: 1.0\n#Fields: ${accessLogFields.join(" ")}\n`;

/** The playback events CloudFront logged (lowercase, as logged). */
export const AccessLogEvent = {
  Connect: "connect",
  Play: "play",
  Stop: "stop",
  Pause: "pause",
  Unpause: "unpause",
  Seek: "seek",
  Disconnect: "disconnect",
} as const;
export type AccessLogEvent = (typeof AccessLogEvent)[keyof typeof AccessLogEvent];

/** The stream an event is about: fields 14–17, logged for play, stop, pause, unpause and seek. */
export interface AccessLogStream {
  /** The stream name as played, without its query. */
  readonly name: string;
  /** The stream name's query, without the question mark. */
  readonly query: string;
  /** flv, mp4 or mp3. */
  readonly fileExt: string;
  readonly streamId: number;
}

/** The connection's fields, fixed at connect. */
export interface AccessLogConnection {
  readonly edgeLocation: string;
  readonly clientIp: string;
  readonly clientId: string;
  /** The connect's tcUrl without its query, e.g. rtmp://s5c39gqb8ow64r.cloudfront.net/cfx/st. */
  readonly uriStem: string;
  /** The tcUrl's query, without the question mark. */
  readonly uriQuery: string;
  /** connect's swfUrl. */
  readonly referrer: string;
  /** connect's pageUrl. */
  readonly pageUrl: string;
  /** connect's flashVer. */
  readonly userAgent: string;
}

export interface AccessLogRecord {
  /** Milliseconds since the epoch (wall clock). */
  readonly timeMs: number;
  readonly event: AccessLogEvent;
  /** Running total of bytes sent to this client at the event. */
  readonly scBytes: number;
  readonly connection: AccessLogConnection;
  /** Absent for connect and disconnect (their stream fields are `-`). */
  readonly stream?: AccessLogStream | undefined;
}

/**
 * One field as CloudFront wrote it: `-` when empty; otherwise bytes that
 * would break the line or its tab/space structure (controls, space, tab,
 * DEL, `"`, `\`, anything outside ASCII as its UTF-8 bytes) are
 * percent-encoded, e.g. flashVer `LNX 10,0,32,18` → `LNX%2010,0,32,18`.
 * `%` itself is left alone, as CloudFront did (values often arrive
 * percent-encoded already), so a reader decodes a field once.
 */
export function escapeField(value: string): string {
  if (value === "") return "-";
  let out = "";
  for (const char of value) {
    let escaped = "";
    for (const byte of Buffer.from(char, "utf8")) {
      escaped +=
        byte <= 0x20 || byte >= 0x7f || byte === 0x22 || byte === 0x5c
          ? `%${byte.toString(16).toUpperCase().padStart(2, "0")}`
          : String.fromCharCode(byte);
    }
    // Cut before a whole character, so the bound holds and the field still decodes as UTF-8.
    if (out.length + escaped.length > maxFieldChars) break;
    out += escaped;
  }
  return out;
}

/**
 * The longest field, escaped. A viewer chooses the connect strings and the
 * play name (up to max-connect-bytes and 5 KiB, three times that escaped),
 * so each is cut here: the 11 fields a viewer sets fill at most 45 KiB, and
 * any line fits an empty spool file of access-log-max-file-bytes.
 */
export const maxFieldChars = 4096;

/** The record as one log line, newline included. */
export function formatAccessLogLine(record: AccessLogRecord): string {
  const iso = new Date(record.timeMs).toISOString();
  const c = record.connection;
  const s = record.stream;
  const fields = [
    iso.slice(0, 10),
    iso.slice(11, 19),
    escapeField(c.edgeLocation),
    escapeField(c.clientIp),
    record.event,
    String(Math.max(0, Math.floor(record.scBytes))),
    "OK",
    escapeField(c.clientId),
    escapeField(c.uriStem),
    escapeField(c.uriQuery),
    escapeField(c.referrer),
    escapeField(c.pageUrl),
    escapeField(c.userAgent),
    s ? escapeField(s.name) : "-",
    s ? escapeField(s.query) : "-",
    s ? escapeField(s.fileExt) : "-",
    s ? String(s.streamId) : "-",
  ];
  return `${fields.join("\t")}\n`;
}

/** A URL or stream name split at its first `?`: question marks are not logged. */
export function splitQuery(value: string): { readonly base: string; readonly query: string } {
  const at = value.indexOf("?");
  return at < 0 ? { base: value, query: "" } : { base: value.slice(0, at), query: value.slice(at + 1) };
}
