import { EdgeError, EdgeErrorCode } from "../errors.js";
import type { SkippedTrack } from "./media-tag.js";

/**
 * Container parsers run on bytes chosen by whoever uploaded the object, so
 * every malformed input must surface as an EdgeError (never a RangeError
 * from a Buffer read past the end): the session maps the code to
 * NetStream.Play.FileStructureInvalid and closes only that stream.
 */
export function mediaInvalid(message: string, options?: ErrorOptions): EdgeError {
  return new EdgeError(EdgeErrorCode.MediaInvalid, message, options);
}

/**
 * MediaInvalid for a movie none of whose tracks RTMP can carry (HEVC only,
 * Opus only…). It names what was left out so the play's failure is logged
 * and counted in the skipped-tracks metric like a partly played movie.
 */
export class NoPlayableTrackError extends EdgeError {
  readonly skippedTracks: readonly SkippedTrack[];

  constructor(message: string, skippedTracks: readonly SkippedTrack[]) {
    super(EdgeErrorCode.MediaInvalid, message);
    this.name = "NoPlayableTrackError";
    this.skippedTracks = skippedTracks;
  }
}

export function mediaTooLarge(message: string): EdgeError {
  return new EdgeError(EdgeErrorCode.MediaTooLarge, message);
}

/** Throws MediaInvalid unless `bytes` holds `length` bytes from `offset`. */
export function need(bytes: Uint8Array, offset: number, length: number, what: string): void {
  if (!Number.isInteger(offset) || offset < 0 || length < 0 || offset + length > bytes.length) {
    throw mediaInvalid(`truncated ${what}: need ${length} bytes at ${offset}, have ${bytes.length}`);
  }
}
