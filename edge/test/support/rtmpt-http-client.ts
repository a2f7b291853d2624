import { connect, type Socket } from "node:net";

/** One HTTP/1.1 answer as it came off the wire. */
export interface RawAnswer {
  readonly status: number;
  /** The status line and header lines exactly as sent. */
  readonly head: string;
  /** Header names lower-cased. */
  readonly headers: ReadonlyMap<string, string>;
  readonly body: Buffer;
}

/**
 * A keep-alive HTTP/1.1 connection written by hand, as librtmp writes its
 * RTMPT POSTs: requests can be pipelined, answers are read in order by
 * Content-Length, and the test sees the exact header bytes.
 */
export class RawHttpConnection {
  readonly socket: Socket;
  #buffer = Buffer.alloc(0);
  #waiters: { resolve: (answer: RawAnswer) => void; reject: (error: Error) => void }[] = [];
  #closed = false;
  readonly closed: Promise<void>;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#drain();
    });
    this.closed = new Promise((resolve) => {
      socket.on("close", () => {
        this.#closed = true;
        for (const waiter of this.#waiters.splice(0)) waiter.reject(new Error("connection closed"));
        resolve();
      });
    });
    socket.on("error", () => {});
  }

  static open(port: number, host = "127.0.0.1"): Promise<RawHttpConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host, noDelay: true }, () => resolve(new RawHttpConnection(socket)));
      socket.once("error", reject);
    });
  }

  /** Writes one request; the answer promise resolves in request order. */
  send(
    method: string,
    path: string,
    body: Buffer = Buffer.from([0]),
    extraHeaders: Record<string, string> = {},
  ): Promise<RawAnswer> {
    const answer = new Promise<RawAnswer>((resolve, reject) => {
      if (this.#closed) reject(new Error("connection closed"));
      else this.#waiters.push({ resolve, reject });
    });
    const headers: Record<string, string> = {
      Host: "localhost",
      Accept: "*/*",
      "User-Agent": "Shockwave Flash",
      Connection: "Keep-Alive",
      "Cache-Control": "no-cache",
      "Content-Type": "application/x-fcs",
      "Content-Length": String(body.length),
      ...extraHeaders,
    };
    const head = Object.entries(headers)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join("");
    this.socket.write(`${method} ${path} HTTP/1.1\r\n${head}\r\n`);
    if (body.length > 0) this.socket.write(body);
    return answer;
  }

  post(path: string, body?: Buffer): Promise<RawAnswer> {
    return this.send("POST", path, body);
  }

  close(): void {
    this.socket.destroy();
  }

  #drain(): void {
    for (;;) {
      const end = this.#buffer.indexOf("\r\n\r\n");
      if (end < 0 || this.#waiters.length === 0) return;
      const head = this.#buffer.subarray(0, end).toString("latin1");
      const lines = head.split("\r\n");
      const headers = new Map<string, string>();
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(":");
        headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
      }
      let body: Buffer;
      if (headers.get("transfer-encoding") === "chunked") {
        const decoded = decodeChunked(this.#buffer.subarray(end + 4));
        if (!decoded) return;
        body = decoded.body;
        this.#buffer = this.#buffer.subarray(end + 4 + decoded.used);
      } else {
        const length = Number(headers.get("content-length") ?? "0");
        if (this.#buffer.length < end + 4 + length) return;
        body = Buffer.from(this.#buffer.subarray(end + 4, end + 4 + length));
        this.#buffer = this.#buffer.subarray(end + 4 + length);
      }
      const status = Number(lines[0]!.split(" ")[1]);
      this.#waiters.shift()!.resolve({ status, head, headers, body });
    }
  }
}

/** A client-side RTMPT session: id and the sequence counter, as librtmp keeps them. */
export class RtmptTestSession {
  readonly id: string;
  seq = 0;
  #connection: RawHttpConnection;

  private constructor(id: string, connection: RawHttpConnection) {
    this.id = id;
    this.#connection = connection;
  }

  static async open(connection: RawHttpConnection): Promise<RtmptTestSession> {
    const answer = await connection.post("/open/1");
    if (answer.status !== 200) throw new Error(`open answered ${answer.status}`);
    return new RtmptTestSession(answer.body.toString("latin1").replace(/\n$/, ""), connection);
  }

  /** Later requests go over this connection. */
  use(connection: RawHttpConnection): this {
    this.#connection = connection;
    return this;
  }

  send(bytes: Buffer): Promise<RawAnswer> {
    return this.#connection.post(`/send/${this.id}/${this.seq++}`, bytes);
  }

  idle(): Promise<RawAnswer> {
    return this.#connection.post(`/idle/${this.id}/${this.seq++}`, Buffer.from([0]));
  }

  close(): Promise<RawAnswer> {
    return this.#connection.post(`/close/${this.id}/${this.seq++}`, Buffer.from([0]));
  }
}

/** A whole chunked body and the bytes it took, or null while it is incomplete. */
function decodeChunked(bytes: Buffer): { body: Buffer; used: number } | null {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = bytes.indexOf("\r\n", at);
    if (lineEnd < 0) return null;
    const size = Number.parseInt(bytes.subarray(at, lineEnd).toString("latin1"), 16);
    const start = lineEnd + 2;
    if (size === 0) {
      if (bytes.length < start + 2) return null;
      return { body: Buffer.concat(parts), used: start + 2 };
    }
    if (bytes.length < start + size + 2) return null;
    parts.push(Buffer.from(bytes.subarray(start, start + size)));
    at = start + size + 2;
  }
}
