/**
 * The first byte of every /send and /idle answer tells the client how long
 * to wait before its next idle poll. FMS's units
 * were never published, so the edge uses rtmplite's schedule, which
 * Flash Players accept:
 *
 *   empty answers in a row   0–9    10–19  20–29  30–39  40–49  50+
 *   byte                     0x01   0x03   0x05   0x09   0x11   0x21
 *
 * While bytes move (either way) the byte stays 0x01, so a playing viewer
 * polls as fast as it can. A paused or stalled viewer backs off in steps of
 * ten polls, which cuts the idle request rate an edge sees from many
 * viewers; the first byte carrying data resets it. librtmp ignores the byte
 * and ffmpeg waits a fixed 50 ms after an empty answer, so only Flash-style
 * clients slow down.
 */
export const pollingSchedule: readonly number[] = [0x01, 0x03, 0x05, 0x09, 0x11, 0x21];

/** Empty answers at one step before the next, longer step. */
export const emptyAnswersPerStep = 10;

/** The whole body of an answer for a session that has ended. */
export const closedMarker = 0x00;

/** The polling byte for an answer after `emptyInARow` empty answers before it. */
export function pollingByte(emptyInARow: number): number {
  const step = Math.min(Math.floor(emptyInARow / emptyAnswersPerStep), pollingSchedule.length - 1);
  return pollingSchedule[Math.max(step, 0)]!;
}

/** One session's count of empty answers; no clock, it counts answers only. */
export class PollingDelay {
  #emptyInARow = 0;

  /** The byte for the next answer; `carriesData` when bytes moved in either direction. */
  next(carriesData: boolean): number {
    if (carriesData) {
      this.#emptyInARow = 0;
      return pollingSchedule[0]!;
    }
    const byte = pollingByte(this.#emptyInARow);
    // Saturate: past the last step the count has no effect.
    if (this.#emptyInARow < emptyAnswersPerStep * pollingSchedule.length) this.#emptyInARow++;
    return byte;
  }
}
