/**
 * What RedisStore and its change feed share about talking to Redis: reading
 * script replies, turning failures into the errors callers see, and closing
 * a connection.
 */
import { StreamfrontError } from "../../../lib/errors.js";
import type { RedisClient } from "./redis-connection.js";
import { StoreDataError } from "./store-codec.js";
import { storeUnavailable } from "./store-rules.js";

/** Quits politely when connected (bounded to a second), then drops the socket. */
export async function quit(client: RedisClient): Promise<void> {
  if (client.status === "ready") {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      client.quit().catch(() => {}),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, 1000);
      }),
    ]);
    clearTimeout(timer);
  }
  client.disconnect();
}

/** Replies that mean "not now" rather than "never": the call may succeed later. */
const transientReply =
  /^(LOADING|BUSY|MASTERDOWN|CLUSTERDOWN|READONLY|TRYAGAIN|NOREPLICAS|OOM|MISCONF|NOAUTH|WRONGPASS|NOPERM)\b/;

/**
 * What a caller sees of a failure: our own errors as they are; a Redis
 * error reply as StoreUnavailable when transient, else StoreDataError (the
 * data or a script is wrong); anything else from ioredis (connection closed,
 * command timed out, not connected) as StoreUnavailable. Programming errors
 * (TypeError and the like) pass unchanged so they are not mistaken for an
 * outage.
 */
export function mapError(error: unknown, what: string): Error {
  if (error instanceof StreamfrontError) return error;
  if (error instanceof TypeError || error instanceof RangeError || error instanceof ReferenceError)
    return error;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof Error && error.name === "ReplyError") {
    if (transientReply.test(message)) return storeUnavailable(`Redis refused the ${what}: ${message}`, error);
    return new StoreDataError(`Redis failed the ${what}: ${message}`, { cause: error });
  }
  return storeUnavailable(`the ${what} did not reach Redis or got no reply: ${message}`, error);
}

export function unexpected(reply: unknown, what: string): StoreDataError {
  return new StoreDataError(
    `unexpected reply from Redis to the ${what}: ${JSON.stringify(reply)?.slice(0, 200)}`,
  );
}

export function text(value: unknown, what: string): string {
  if (typeof value === "string") return value;
  if (typeof value === "number") return String(value);
  throw unexpected(value, what);
}

export function integer(value: unknown, what: string): number {
  const n = typeof value === "number" ? value : typeof value === "string" ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n)) throw unexpected(value, what);
  return n;
}
