import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";

/**
 * CloudFront served its own allow-all policy and ignored one in the bucket.
 */
const crossDomainPolicy = `<?xml version="1.0"?>
<!DOCTYPE cross-domain-policy SYSTEM "http://www.adobe.com/xml/dtds/cross-domain-policy.dtd">
<cross-domain-policy>
  <site-control permitted-cross-domain-policies="all"/>
  <allow-access-from domain="*" secure="false"/>
</cross-domain-policy>
`;

/** Body bytes read (and dropped) from a request no handler wants before its connection is cut. */
const maxBodyBytes = 64 * 1024;

/** Takes the requests that belong to it (RTMPT's); false leaves one to the responder. */
export interface HttpHandler {
  handle(req: IncomingMessage, res: ServerResponse): boolean;
}

/**
 * The HTTP side of the shared port: RTMPT (`/fcs/ident2`, `/open`, `/send`,
 * `/idle`, `/close`) when a tunnel handler is given, and
 * `/crossdomain.xml`. Everything else is 404.
 *
 * None of these answers needs the request body, so the answer goes out at
 * once; a body still arriving is read and dropped up to maxBodyBytes, and
 * the answer closes the connection (its rest would otherwise be parsed as
 * the next request). Past maxBodyBytes the connection is cut: the answer
 * has been written by then, so there is no second status to send.
 * Timeouts come from HttpDeadlines: this server never listens itself, so
 * Node's own request and headers timeouts do not run for its sockets.
 */
export function createHttpResponder(rtmpt?: HttpHandler, onClientError?: (error: Error) => void): Server {
  const server = createServer({ maxHeaderSize: 8192 }, (req: IncomingMessage, res: ServerResponse) => {
    // An aborted request or a reset socket must never become an uncaught 'error'.
    req.on("error", () => req.socket.destroy());
    res.on("error", () => req.socket.destroy());
    if (rtmpt?.handle(req, res)) return;
    let received = 0;
    req.on("data", (chunk: Buffer) => {
      received += chunk.length;
      if (received > maxBodyBytes) req.socket.destroy();
    });
    const hasBody =
      req.headers["transfer-encoding"] !== undefined ||
      (req.headers["content-length"] !== undefined && req.headers["content-length"] !== "0");
    const close = hasBody ? { connection: "close" } : {};
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/crossdomain.xml" && (req.method === "GET" || req.method === "HEAD")) {
      res.writeHead(200, {
        "content-type": "text/x-cross-domain-policy",
        "cache-control": "max-age=86400",
        ...close,
      });
      res.end(req.method === "HEAD" ? undefined : crossDomainPolicy);
      return;
    }
    res.writeHead(404, { "content-type": "text/plain", ...close }).end("not found\n");
  });
  // Unparsable requests (garbage, oversized headers): answered as Node's
  // default would, and counted; a reset socket is only closed.
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (error.code === "ECONNRESET" || !socket.writable) {
      socket.destroy();
      return;
    }
    onClientError?.(error);
    const status =
      error.code === "HPE_HEADER_OVERFLOW" ? "431 Request Header Fields Too Large" : "400 Bad Request";
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`, () =>
      socket.destroy(),
    );
  });
  // Checked by HttpDeadlines (see above); set here too for any socket a
  // future listen() would bring.
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  return server;
}
