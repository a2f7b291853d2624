import type { MpegAudioHeader } from "./mpeg-audio.js";

/**
 * The first frame of a LAME/Xing-encoded file is often not audio but a
 * header describing the stream. Xing ("Xing" for VBR, "Info" for CBR) sits
 * after the side information, whose length depends on version and
 * channels:
 *
 *   +0  "Xing" | "Info"
 *   +4  u32 flags: 1 frames, 2 bytes, 4 TOC, 8 quality
 *   then, each only when its flag is set: u32 frames, u32 bytes,
 *   100-byte TOC (entry i = byte position of i% of the duration, in 1/256ths of `bytes`), u32 quality
 *
 * VBRI (Fraunhofer) sits 32 bytes after the frame header:
 *
 *   +0  "VBRI", u16 version, u16 delay, u16 quality, u32 bytes, u32 frames, …
 */
export interface VbrHeader {
  tag: "Xing" | "Info" | "VBRI";
  /** Audio frames in the stream (excluding this header frame), when known. */
  frames: number | null;
  /** Stream bytes including this header frame, when known. */
  bytes: number | null;
  toc: Uint8Array | null;
}

/** Offset of the Xing tag within the frame: 4-byte header plus side information. */
export function xingOffset(header: MpegAudioHeader): number {
  if (header.version === 1) return header.channels === 1 ? 4 + 17 : 4 + 32;
  return header.channels === 1 ? 4 + 9 : 4 + 17;
}

const VBRI_OFFSET = 4 + 32;

/** The VBR header inside `frame` (the first frame's bytes), or null when it is plain audio. */
export function parseVbrHeader(frame: Buffer, header: MpegAudioHeader): VbrHeader | null {
  const x = xingOffset(header);
  const tag = frame.length >= x + 8 ? frame.toString("latin1", x, x + 4) : "";
  if (tag === "Xing" || tag === "Info") {
    const flags = frame.readUInt32BE(x + 4);
    let p = x + 8;
    const field = (flag: number, size: number): number | null => {
      if (!(flags & flag) || p + size > frame.length) return null;
      const at = p;
      p += size;
      return size === 4 ? frame.readUInt32BE(at) : at;
    };
    const frames = field(1, 4);
    const bytes = field(2, 4);
    const tocAt = field(4, 100);
    return {
      tag,
      frames,
      bytes,
      toc: tocAt === null ? null : Uint8Array.from(frame.subarray(tocAt, tocAt + 100)),
    };
  }
  if (frame.length >= VBRI_OFFSET + 18 && frame.toString("latin1", VBRI_OFFSET, VBRI_OFFSET + 4) === "VBRI") {
    return {
      tag: "VBRI",
      bytes: frame.readUInt32BE(VBRI_OFFSET + 10),
      frames: frame.readUInt32BE(VBRI_OFFSET + 14),
      toc: null,
    };
  }
  return null;
}
