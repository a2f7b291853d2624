import { type Ipv4Network, parseIpv4Cidr } from "./ipv4-cidr.js";

/**
 * A CloudFront policy statement, reduced to what decides a play:
 *
 *   {"Statement":[{"Resource":"<name pattern>",
 *     "Condition":{"DateLessThan":{"AWS:EpochTime":N},
 *                  "DateGreaterThan":{"AWS:EpochTime":N},
 *                  "IpAddress":{"AWS:SourceIp":"a.b.c.d/nn"}}}]}
 *
 * DateLessThan is required; the other two are optional; one statement only.
 */
export interface Policy {
  /** The Resource pattern (`*`, `?` wildcards); undefined when the statement has none (any object). */
  readonly resource: string | undefined;
  readonly dateLessThanSeconds: number;
  readonly dateGreaterThanSeconds: number | undefined;
  readonly sourceIp: Ipv4Network | undefined;
}

/**
 * The canned policy CloudFront rebuilds from `Expires` — byte for byte what
 * a signer signed (JSON without whitespace, in this key order; the
 * official signer and `openssl sha1 -sign` over the documented text agree).
 */
export function cannedPolicyText(resource: string, expiresSeconds: number): string {
  return `{"Statement":[{"Resource":${JSON.stringify(resource)},"Condition":{"DateLessThan":{"AWS:EpochTime":${expiresSeconds}}}}]}`;
}

export type PolicyParse =
  | { readonly ok: true; readonly policy: Policy }
  | { readonly ok: false; readonly problem: string };

const conditionNames = new Set(["DateLessThan", "DateGreaterThan", "IpAddress"]);

/**
 * Reads a custom policy's JSON. Strict: a field this edge does not know is
 * refused rather than ignored, so a policy never grants more here than the
 * signer meant (an unknown condition would otherwise be skipped).
 */
export function parseCustomPolicy(text: string): PolicyParse {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return fail("the policy is not JSON");
  }
  if (!isObject(json) || !hasOnly(json, ["Statement"]))
    return fail("the policy has fields besides Statement");
  const statements = json.Statement;
  if (!Array.isArray(statements) || statements.length !== 1)
    return fail("the policy needs exactly one statement");
  const statement: unknown = statements[0];
  if (!isObject(statement) || !hasOnly(statement, ["Resource", "Condition"])) {
    return fail("the statement has fields besides Resource and Condition");
  }
  const resource = statement.Resource;
  if (resource !== undefined && typeof resource !== "string") return fail("Resource is not a string");
  const condition = statement.Condition;
  if (!isObject(condition)) return fail("Condition is missing");
  for (const name of Object.keys(condition)) {
    if (!conditionNames.has(name)) return fail(`unknown condition ${name}`);
  }
  const lessThan = epochOf(condition.DateLessThan);
  if (lessThan === null || lessThan === undefined)
    return fail("DateLessThan is missing or not an epoch time");
  const greaterThan = epochOf(condition.DateGreaterThan);
  if (greaterThan === null) return fail("DateGreaterThan is not an epoch time");
  let sourceIp: Ipv4Network | undefined;
  if (condition.IpAddress !== undefined) {
    const ip = condition.IpAddress;
    if (!isObject(ip) || !hasOnly(ip, ["AWS:SourceIp"]) || typeof ip["AWS:SourceIp"] !== "string") {
      return fail("IpAddress needs AWS:SourceIp");
    }
    const network = parseIpv4Cidr(ip["AWS:SourceIp"]);
    if (network === null) return fail("AWS:SourceIp is not an IPv4 CIDR");
    sourceIp = network;
  }
  return {
    ok: true,
    policy: { resource, dateLessThanSeconds: lessThan, dateGreaterThanSeconds: greaterThan, sourceIp },
  };
}

/** undefined when absent, null when malformed. */
function epochOf(value: unknown): number | null | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value) || !hasOnly(value, ["AWS:EpochTime"])) return null;
  const epoch = value["AWS:EpochTime"];
  return typeof epoch === "number" && Number.isSafeInteger(epoch) && epoch >= 0 ? epoch : null;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function hasOnly(value: Record<string, unknown>, names: readonly string[]): boolean {
  return Object.keys(value).every((k) => names.includes(k));
}

function fail(problem: string): PolicyParse {
  return { ok: false, problem };
}
