import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

/**
 * CloudFront served its own allow-all policy and ignored one in the bucket
 * (cloudfront-rtmp.md §2.3).
 */
export const crossDomainPolicy = `<?xml version="1.0"?>
<!DOCTYPE cross-domain-policy SYSTEM "http://www.adobe.com/xml/dtds/cross-domain-policy.dtd">
<cross-domain-policy>
  <site-control permitted-cross-domain-policies="all"/>
  <allow-access-from domain="*" secure="false"/>
</cross-domain-policy>
`;

const maxBodyBytes = 64 * 1024;

/** Takes the requests that belong to it (RTMPT's); false leaves one to the responder. */
export interface HttpHandler {
  handle(req: IncomingMessage, res: ServerResponse): boolean;
}

/**
 * The HTTP side of the shared port: RTMPT (`/fcs/ident2`, `/open`, `/send`,
 * `/idle`, `/close`) when a tunnel handler is given, and
 * `/crossdomain.xml`. Everything else is 404.
 */
export function createHttpResponder(rtmpt?: HttpHandler): Server {
  const server = createServer({ maxHeaderSize: 8192 }, (req: IncomingMessage, res: ServerResponse) => {
    if (rtmpt?.handle(req, res)) return;
    let received = 0;
    req.on("data", (chunk: Buffer) => {
      received += chunk.length;
      if (received > maxBodyBytes) {
        res
          .writeHead(413, { "content-type": "text/plain", connection: "close" })
          .end("request body too large\n");
        req.destroy();
      }
    });
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/crossdomain.xml" && (req.method === "GET" || req.method === "HEAD")) {
      res.writeHead(200, { "content-type": "text/x-cross-domain-policy", "cache-control": "max-age=86400" });
      res.end(req.method === "HEAD" ? undefined : crossDomainPolicy);
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
  });
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  return server;
}
