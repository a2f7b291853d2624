/**
 * Which bucket names and object keys the shield passes to S3. Pure: a
 * string in, a reason out (undefined when the name is acceptable).
 *
 * Why this exists: with path-style addressing the AWS SDK builds the URL
 * path as `/<bucket>/<key>`, percent-encoding each key segment but keeping
 * `/` and the segments `.` and `..` as they are (`.` is an unreserved
 * character). The S3 server (s3rver, MinIO, proxies in front of S3)
 * normalises that path before routing, so the key `../otherbucket/secret`
 * on an allowed bucket reads `otherbucket/secret` — another bucket with the
 * shield's credentials. Encoding cannot help either: `%2E%2E` is decoded
 * back to `..` by the same servers. So every key S3 might reinterpret as a
 * different path is refused before any S3 request:
 *
 * - dot segments (`.`, `..`), also in the forms a lenient or double-decoding
 *   server turns into one: percent-encoded (`%2e%2e`, `%252e`) and Unicode
 *   compatibility forms (`．．`, `‥` under NFKC);
 * - empty segments (a leading `/`, `//`, a trailing `/`): servers that
 *   merge slashes read another key, and `a//../..` climbs one level less
 *   than it looks;
 * - backslashes (a path separator to Windows-hosted clones and to many
 *   proxies), and segments that decode to a separator;
 * - control characters (C0, DEL, C1): S3 itself advises against them,
 *   s3rver answers NUL with a 500 (retried four times), and they corrupt
 *   logs;
 * - keys that are not well-formed UTF-16 (lone surrogates: the SDK's
 *   encodeURIComponent throws on them) or longer than S3's 1024 UTF-8
 *   bytes.
 *
 * Legitimate media keys keep working: dots inside a segment (`a..b`,
 * `.hidden`, `v1.0/x.flv`), spaces, `%` that does not decode to a dot or a
 * separator, any printable Unicode.
 *
 * The edge's parseStreamName (edge/src/routing/stream-name.ts) refuses `.`/`..`
 * segments and NUL and strips leading slashes; this check is the one that
 * holds whoever calls the shield.
 */

/** Longest key S3 accepts, in UTF-8 bytes. */
export const maxKeyBytes = 1024;
/** Longest bucket name S3 ever allowed (legacy us-east-1 buckets). */
const maxBucketChars = 255;

/** C0 controls, DEL and C1 controls. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const controlCharacter = /[\u0000-\u001f\u007f-\u009f]/;
/** Legacy bucket names allowed upper case and underscores; never a separator, a dot segment or a control. */
const bucketCharacters = /^[A-Za-z0-9._-]+$/;
/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** Rounds of percent-decoding a segment is checked under (a server decoding twice, a proxy once more). */
const decodeRounds = 3;

/** Why S3 must not be asked for this bucket, or undefined when it may be. */
export function bucketProblem(bucket: string): string | undefined {
  if (bucket.length === 0) return "bucket is empty";
  if (bucket.length > maxBucketChars)
    return `bucket name is too long (${bucket.length} vs ${maxBucketChars})`;
  if (!bucketCharacters.test(bucket) || bucket === "." || bucket === "..") {
    return "bucket name has characters S3 bucket names cannot have";
  }
  return undefined;
}

/** Why S3 must not be asked for this key, or undefined when it may be. */
export function keyProblem(key: string): string | undefined {
  if (key.length === 0) return "key is empty";
  if (loneSurrogate.test(key)) return "key is not well-formed Unicode (a lone surrogate)";
  const bytes = Buffer.byteLength(key, "utf8");
  if (bytes > maxKeyBytes) return `key is too long (${bytes} vs ${maxKeyBytes} bytes)`;
  if (controlCharacter.test(key)) return "key has a control character";
  if (key.includes("\\")) return "key has a backslash (a path separator to some S3 servers)";
  const segments = key.split("/");
  for (let i = 0; i < segments.length; i++) {
    const problem = segmentProblem(segments[i]!);
    if (problem) return `key segment ${i + 1} ${problem}`;
  }
  return undefined;
}

function segmentProblem(segment: string): string | undefined {
  if (segment.length === 0) return "is empty (a leading, doubled or trailing '/')";
  if (isDotSegment(segment)) return `is the dot segment ${JSON.stringify(segment)}`;
  // Only segments with a '%' or a non-ASCII character can turn into
  // something else under decoding or normalisation.
  if (!/[%\u0080-\uffff]/.test(segment)) return undefined;
  for (const form of reinterpretations(segment)) {
    if (isDotSegment(form)) return `reads as a dot segment once decoded (${JSON.stringify(segment)})`;
    if (form.includes("/") || form.includes("\\")) {
      return `reads as a path separator once decoded (${JSON.stringify(segment)})`;
    }
  }
  return undefined;
}

function isDotSegment(segment: string): boolean {
  return segment === "." || segment === "..";
}

/** The segment as servers might read it: percent-decoded up to decodeRounds times, each also NFKC-normalised. */
function reinterpretations(segment: string): string[] {
  const forms: string[] = [];
  let current = segment;
  for (let round = 0; round <= decodeRounds; round++) {
    forms.push(current, current.normalize("NFKC"));
    const next = percentDecode(current);
    if (next === current) break;
    current = next;
  }
  return forms;
}

/**
 * One round of percent-decoding that never throws: `%XX` sequences that do
 * not form valid UTF-8 are left as they are (decodeURIComponent would
 * reject the whole string, and a server would read them literally).
 */
function percentDecode(text: string): string {
  return text.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return run;
    }
  });
}
