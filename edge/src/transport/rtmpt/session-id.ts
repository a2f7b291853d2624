import { randomBytes } from "node:crypto";

/**
 * RTMPT session ids: 128 bits from the system CSPRNG, written as 32
 * lowercase hex digits. The id is the only secret a tunnel has (any address
 * may poll it), so it must not be guessable.
 *
 * Hex rather than base64url: it needs no escaping in a path, compares
 * byte for byte, and 32 characters plus the "\n" fit ffmpeg's 64-byte
 * client id buffer (rtmphttp.c fails the open when the id fills it).
 */
const sessionIdBytes = 16;

/** What a valid id looks like; anything else is rejected before a lookup. */
export const sessionIdPattern = /^[0-9a-f]{32}$/;

export type RandomBytes = (size: number) => Buffer;

export function newSessionId(random: RandomBytes = randomBytes): string {
  return random(sessionIdBytes).toString("hex");
}
