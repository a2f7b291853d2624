import type { AddressInfo, Server } from "node:net";
import { type Server as GrpcServer, ServerCredentials } from "@grpc/grpc-js";

/** host:port, with an IPv6 host in brackets. */
export function formatAddress(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Binds a TCP (or HTTP) server; rejects with the bind error (EADDRINUSE, EACCES …). */
export async function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return server.address() as AddressInfo;
}

/** Binds a gRPC server without TLS (pods talk inside the cluster network); resolves with host:port. */
export async function bindGrpc(server: GrpcServer, host: string, port: number): Promise<string> {
  const bound = await new Promise<number>((resolve, reject) => {
    server.bindAsync(formatAddress(host, port), ServerCredentials.createInsecure(), (error, p) =>
      error ? reject(error) : resolve(p),
    );
  });
  return formatAddress(host, bound);
}
