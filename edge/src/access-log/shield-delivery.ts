import { Metadata } from "@grpc/grpc-js";
import { ShieldErrorCode } from "../../../lib/shield-error-code.js";
import { EdgeError, EdgeErrorCode } from "../errors.js";
import { shieldCodeOf } from "../shield-client/object-opener.js";
import type { ShieldPool } from "../shield-client/shield-pool.js";
import type { LogDelivery } from "./log-shipper.js";

/**
 * Delivers access-log files through the shield (the component with S3
 * credentials), to any live replica: replicas in rendezvous order of the
 * file, failing over on a replica that is down, closing or silent. S3
 * failing behind a shield is not failed over (every replica writes the
 * same bucket): the shipper tries again later.
 */
export function shieldLogDelivery(pool: ShieldPool, deadlineMs: number): LogDelivery {
  return async (file) => {
    let lastError: unknown = new Error("no shield replica is known");
    for (const address of pool.order(pool.rank(`${file.distributionId}/${file.unique}`))) {
      const client = pool.client(address);
      if (!client) continue;
      try {
        await new Promise<void>((resolve, reject) => {
          client.deliverAccessLog(
            {
              distributionId: file.distributionId,
              hour: file.hour,
              unique: file.unique,
              gzipped: file.gzipped,
            },
            new Metadata(),
            { deadline: new Date(Date.now() + deadlineMs) },
            (error) => (error ? reject(error) : resolve()),
          );
        });
        pool.reportSuccess(address);
        return;
      } catch (error) {
        lastError = error;
        const code = shieldCodeOf(error);
        if (code === ShieldErrorCode.OriginUnavailable) break;
        // Config reaches replicas at slightly different times: another may know the Logging already.
        if (code !== ShieldErrorCode.LoggingNotEnabled) pool.reportFailure(address);
      }
    }
    throw new EdgeError(
      EdgeErrorCode.AccessLogDeliveryFailed,
      `access log ${file.distributionId}.${file.hour}.${file.unique} not delivered: ${describe(lastError)}`,
      { cause: lastError },
    );
  };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
