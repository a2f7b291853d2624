import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import type { Logger } from "./log.js";
import { listen, type PortSetting } from "./net/listen.js";

/** Prometheus, kubelet probes and an operator's curl: far fewer than this at once. */
const maxAdminConnections = 64;

export interface AdminServerOptions {
  readonly host: string;
  readonly port: number;
  /** Where the port is configured, named when it cannot be bound. */
  readonly portSetting?: PortSetting;
  readonly registry: Registry;
  readonly logger: Logger;
  /** Whether the component can take traffic now; /readyz answers 503 otherwise. */
  readonly isReady: () => boolean;
}

/**
 * The per-component admin port: `/metrics` for Prometheus, `/healthz` for
 * liveness (the process answers) and `/readyz` for readiness (it has what it
 * needs to serve, e.g. a config from the controller). Kept off the traffic
 * ports so a scrape never competes with viewers.
 */
export class AdminServer {
  readonly #options: AdminServerOptions;
  readonly #server: Server;

  constructor(options: AdminServerOptions) {
    this.#options = options;
    // Node checks headersTimeout and requestTimeout in a sweep every
    // connectionsCheckingInterval (30 s by default): a slow client would
    // keep its socket up to 35 s past a 5 s deadline.
    this.#server = createServer({ connectionsCheckingInterval: 1000 }, (req, res) => {
      const path = (req.url ?? "/").split("?")[0];
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain" }).end("method not allowed\n");
        return;
      }
      switch (path) {
        case "/healthz":
          res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
          return;
        case "/readyz": {
          const ready = this.#options.isReady();
          res
            .writeHead(ready ? 200 : 503, { "content-type": "text/plain" })
            .end(ready ? "ready\n" : "not ready\n");
          return;
        }
        case "/metrics":
          this.#options.registry.metrics().then(
            (text) => res.writeHead(200, { "content-type": this.#options.registry.contentType }).end(text),
            (error: unknown) => {
              this.#options.logger.error({ err: error }, "metrics collection failed");
              res.writeHead(500, { "content-type": "text/plain" }).end("metrics collection failed\n");
            },
          );
          return;
        default:
          res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      }
    });
    // Admin requests are tiny; a slow or stuck client must not hold a socket.
    this.#server.requestTimeout = 10_000;
    this.#server.headersTimeout = 5_000;
    // Scrapers and probes need a handful of sockets; an open port must not take unbounded ones.
    this.#server.maxConnections = maxAdminConnections;
  }

  async listen(): Promise<AddressInfo> {
    return listen(this.#server, this.#options.port, this.#options.host, this.#options.portSetting);
  }

  async close(): Promise<void> {
    if (!this.#server.listening) return;
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }
}
