import type { AddressInfo, Server } from "node:net";
import type { Server as GrpcServer, ServerCredentials } from "@grpc/grpc-js";
import { errorCode, errorMessage, StreamfrontError } from "../errors.js";

/** Stable codes of a port that cannot be bound (README: Error codes). */
export const ListenErrorCode = {
  /** Another process holds the port. Exit at once: a component without its listener is no use. */
  AddressInUse: "LISTEN_ERR_ADDRESS_IN_USE",
  /** The port needs privileges (below 1024 without CAP_NET_BIND_SERVICE). */
  PermissionDenied: "LISTEN_ERR_PERMISSION_DENIED",
  /** The host is not an address of this machine. */
  AddressNotAvailable: "LISTEN_ERR_ADDRESS_NOT_AVAILABLE",
  /** Any other bind failure. */
  BindFailed: "LISTEN_ERR_BIND_FAILED",
} as const;
export type ListenErrorCode = (typeof ListenErrorCode)[keyof typeof ListenErrorCode];

export class ListenError extends StreamfrontError {
  declare readonly code: ListenErrorCode;

  constructor(code: ListenErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.name = "ListenError";
  }
}

/** The setting a listener's port comes from, so a bind failure can name it. */
export interface PortSetting {
  readonly flag: string;
  readonly env: string;
}

/** host:port, with an IPv6 host in brackets. */
export function formatAddress(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Binds a TCP (or HTTP) server; rejects with a ListenError naming the port and its setting. */
export async function listen(
  server: Server,
  port: number,
  host: string,
  setting?: PortSetting,
): Promise<AddressInfo> {
  await new Promise<void>((resolve, reject) => {
    const failed = (error: Error) => reject(listenError(error, host, port, setting));
    server.once("error", failed);
    server.listen(port, host, () => {
      server.off("error", failed);
      resolve();
    });
  });
  return server.address() as AddressInfo;
}

/** Binds a gRPC server with the given credentials (InternalTls.serverCredentials()); resolves with host:port. */
export async function bindGrpc(
  server: GrpcServer,
  host: string,
  port: number,
  credentials: ServerCredentials,
  setting?: PortSetting,
): Promise<string> {
  const bound = await new Promise<number>((resolve, reject) => {
    server.bindAsync(formatAddress(host, port), credentials, (error, p) =>
      error ? reject(listenError(error, host, port, setting)) : resolve(p),
    );
  });
  return formatAddress(host, bound);
}

/**
 * Names what could not be bound and where it was configured. grpc-js does not
 * keep the system code on its error, only in the message, so both are read.
 */
export function listenError(error: Error, host: string, port: number, setting?: PortSetting): ListenError {
  const system = errorCode(error) ?? /\b(EADDRINUSE|EACCES|EADDRNOTAVAIL)\b/.exec(errorMessage(error))?.[1];
  const where = `${formatAddress(host, port)}${setting ? ` (--${setting.flag}, ${setting.env})` : ""}`;
  switch (system) {
    case "EADDRINUSE":
      return new ListenError(
        ListenErrorCode.AddressInUse,
        `port ${port} is already in use: cannot listen on ${where}; stop what holds it or choose another port`,
        { cause: error },
      );
    case "EACCES":
      return new ListenError(
        ListenErrorCode.PermissionDenied,
        `no permission to listen on ${where}; ports below 1024 need root or CAP_NET_BIND_SERVICE`,
        { cause: error },
      );
    case "EADDRNOTAVAIL":
      return new ListenError(
        ListenErrorCode.AddressNotAvailable,
        `cannot listen on ${where}: ${host} is not an address of this machine`,
        { cause: error },
      );
    default:
      return new ListenError(
        ListenErrorCode.BindFailed,
        `cannot listen on ${where}: ${errorMessage(error)}`,
        {
          cause: error,
        },
      );
  }
}
