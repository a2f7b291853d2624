/**
 * What a connection's first byte says it speaks: the one table of RTMP C0
 * values. The listener sorts connections by it (RTMP, RTMPE or, on the
 * shared port, HTTP), the RTMPT gateway labels tunnels by it and the
 * handshake accepts exactly these versions.
 */

/** C0 of plain RTMP (S0 echoes it). */
export const RTMP_C0 = 0x03;

/** C0 values of RTMPE: 0x06 plain, 0x08 with an XTEA-signed S2, 0x09 with a Blowfish-signed S2. */
const rtmpeC0s: ReadonlySet<number> = new Set([0x06, 0x08, 0x09]);

/** Every C0 the edge serves. */
export type RtmpC0 = 0x03 | 0x06 | 0x08 | 0x09;

/** True for a C0 the edge serves, plain or encrypted. */
export function isRtmpC0(byte: number): byte is RtmpC0 {
  return byte === RTMP_C0 || rtmpeC0s.has(byte);
}

/** True for a C0 of RTMPE. */
export function isRtmpeC0(byte: number): boolean {
  return rtmpeC0s.has(byte);
}
