import { Rejection } from "../vocabulary.js";

/** Timers as the limits use them; the real ones by default, so tests may bring their own. */
export interface LimitTimers {
  set(callback: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

/** Node's timers, unref'd: a pending deadline never keeps the process alive. */
export const realTimers: LimitTimers = {
  set(callback, ms) {
    const timer = setTimeout(callback, ms);
    timer.unref();
    return timer;
  },
  clear(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

export interface ConnectionLimitSettings {
  /** Open connections on this edge, in both classes. */
  readonly maxTotal: number;
  /** Open connections from one address, in both classes: loose, for viewers behind one NAT. */
  readonly maxPerIp: number;
  /** Connections from one address that have not started a play yet: tight. */
  readonly maxPrePlayPerIp: number;
  /** A connection still pre-play this long after it was admitted is timed out. */
  readonly prePlayTimeoutMs: number;
  readonly timers?: LimitTimers;
}

/**
 * One admitted connection (a TCP connection, or an RTMPT session). It
 * starts in the pre-play class and moves to the playing class once, when
 * its first play starts; release() gives its place back (idempotent).
 */
export interface Admission {
  readonly playing: boolean;
  /** The first play started: counted as playing from now on, and the pre-play timeout is off. */
  promote(): void;
  release(): void;
}

interface AddressCount {
  all: number;
  prePlay: number;
}

/**
 * Connection caps shared by every listener of one edge and the RTMPT
 * gateway. Connections that have not started a play (handshaking,
 * connecting, plain HTTP requests, RTMPT sessions not playing) are bounded
 * tightly per address and time out after prePlayTimeoutMs: they cost the
 * edge without serving anyone, and a slowloris holds them. Playing viewers
 * are bounded loosely per address, since a campus or carrier-grade NAT puts
 * hundreds of them behind one address, and by the total cap.
 */
export class ConnectionLimits {
  readonly #settings: ConnectionLimitSettings;
  readonly #timers: LimitTimers;
  readonly #perIp = new Map<string, AddressCount>();
  readonly #bySocket = new WeakMap<object, Admission>();
  #total = 0;
  #prePlay = 0;

  constructor(settings: ConnectionLimitSettings) {
    this.#settings = settings;
    this.#timers = settings.timers ?? realTimers;
  }

  get total(): number {
    return this.#total;
  }

  get prePlay(): number {
    return this.#prePlay;
  }

  get playing(): number {
    return this.#total - this.#prePlay;
  }

  /**
   * Admits a pre-play connection from `ip`, or says which cap it hits.
   * `onPrePlayTimeout` runs if it is still pre-play after prePlayTimeoutMs
   * (the caller closes it; release follows from its close).
   */
  acquire(ip: string, onPrePlayTimeout: () => void): Admission | Rejection {
    const { maxTotal, maxPerIp, maxPrePlayPerIp, prePlayTimeoutMs } = this.#settings;
    if (this.#total >= maxTotal) return Rejection.TooManyConnections;
    const count = this.#perIp.get(ip) ?? { all: 0, prePlay: 0 };
    if (count.all >= maxPerIp) return Rejection.TooManyConnectionsPerIp;
    if (count.prePlay >= maxPrePlayPerIp) return Rejection.TooManyPrePlayConnectionsPerIp;
    count.all++;
    count.prePlay++;
    this.#perIp.set(ip, count);
    this.#total++;
    this.#prePlay++;
    let playing = false;
    let released = false;
    const timers = this.#timers;
    let timer: unknown = timers.set(() => {
      timer = null;
      if (!released && !playing) onPrePlayTimeout();
    }, prePlayTimeoutMs);
    const stopTimer = () => {
      if (timer !== null) timers.clear(timer);
      timer = null;
    };
    const leavePrePlay = () => {
      count.prePlay--;
      this.#prePlay--;
    };
    return {
      get playing() {
        return playing;
      },
      promote: () => {
        if (released || playing) return;
        playing = true;
        stopTimer();
        leavePrePlay();
      },
      release: () => {
        if (released) return;
        released = true;
        stopTimer();
        if (!playing) leavePrePlay();
        count.all--;
        this.#total--;
        if (count.all <= 0) this.#perIp.delete(ip);
      },
    };
  }

  /** Remembers which admission a socket holds, so a later request on it can promote it. */
  attach(socket: object, admission: Admission): void {
    this.#bySocket.set(socket, admission);
  }

  /** Promotes the admission a socket holds (an HTTP connection carrying a playing RTMPT session). */
  promoteSocket(socket: object): void {
    this.#bySocket.get(socket)?.promote();
  }
}
