import { join } from "node:path";
import { ensureRoleCredentials } from "../../lib/grpc/dev-pki.js";
import { PeerRole } from "../../lib/grpc/peer-role.js";

/**
 * `npm start`'s internal-link credentials: a development CA and one
 * certificate per role in <state-dir>/tls, made on the first run and reused
 * by later ones, so the single-machine cluster runs mutual TLS like a real
 * deployment instead of opting out of it.
 */
export function devCredentialsEnv(
  stateDir: string,
): Record<"controller" | "shield" | "edge", Record<string, string>> {
  const pki = ensureRoleCredentials(join(stateDir, "tls"), Object.values(PeerRole));
  const envOf = (prefix: string, role: PeerRole): Record<string, string> => ({
    [`${prefix}_TLS_CA_FILE`]: pki.caFile,
    [`${prefix}_TLS_CERT_FILE`]: pki.roles[role].certFile,
    [`${prefix}_TLS_KEY_FILE`]: pki.roles[role].keyFile,
  });
  return {
    controller: envOf("STREAMFRONT_CONTROLLER", PeerRole.Controller),
    shield: envOf("STREAMFRONT_SHIELD", PeerRole.Shield),
    edge: envOf("STREAMFRONT_EDGE", PeerRole.Edge),
  };
}
