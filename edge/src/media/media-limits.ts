import { DEFAULT_BLOCK_SIZE } from "./buffered-reader.js";

export interface MediaLimits {
  /** Bound on the header read before playing: the MP4 moov box, the FLV onMetaData tag. @default 16 MiB */
  maxHeaderBytes?: number | undefined;
  /** Bytes per range read when walking the object (the BufferedReader block). @default 256 KiB */
  readAheadBytes?: number | undefined;
}

const DEFAULT_MAX_HEADER_BYTES = 16 * 1024 * 1024;

export interface ResolvedMediaLimits {
  maxHeaderBytes: number;
  readAheadBytes: number;
}

export function resolveLimits(limits: MediaLimits | undefined): ResolvedMediaLimits {
  return {
    maxHeaderBytes: limits?.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES,
    readAheadBytes: limits?.readAheadBytes ?? DEFAULT_BLOCK_SIZE,
  };
}
