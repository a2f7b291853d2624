import { isIP } from "node:net";

/**
 * The one rule for a distribution's alternate domain names (CNAMEs), held by
 * the API (InvalidArgument), the model every store checks (distribution.ts)
 * and the demo-cname setting alike, so that nothing the controller creates
 * is refused when an operator sends it back (GetConfig → Update).
 *
 * - Lower-case DNS labels (letters, digits, inner hyphens; 1–63 characters),
 *   253 characters in all, no trailing dot.
 * - One label is enough: streamfront is self-hosted, and `localhost` or a
 *   LAN name such as `mediabox` are real viewer-facing hosts (CloudFront
 *   itself, on the public Internet, wanted a registered domain).
 * - A wildcard is exactly one leading `*.` label, as CloudFront allows
 *   (`*.example.com`); never `a.*.com`, `*foo.com` or `**.x`. The edge
 *   matches it against any host below it, at any depth (CloudFront:
 *   "marketing.product-name.example.com" matches `*.example.com`), but not
 *   the bare `example.com`; a name listed exactly wins over a wildcard, and
 *   a longer wildcard over a shorter one.
 * - Never an IP address (IPv4, IPv6, or a name whose last label is all
 *   digits, which resolvers and URL parsers read as IPv4): CloudFront
 *   refuses them, and a viewer's tcUrl host that is an address names no
 *   distribution.
 */

const maxAliasChars = 253;
const labelPattern = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Why alias (already lower case) is not a valid alternate domain name, or undefined when it is. */
export function aliasProblem(alias: string): string | undefined {
  if (alias.length === 0) return "it is empty";
  if (alias.length > maxAliasChars) return `it is longer than ${maxAliasChars} characters`;
  const bare = alias.startsWith("[") && alias.endsWith("]") ? alias.slice(1, -1) : alias;
  if (isIP(bare) !== 0) return "it is an IP address; a CNAME must be a host name";
  const labels = alias.split(".");
  const wildcard = labels[0] === "*";
  const named = wildcard ? labels.slice(1) : labels;
  if (wildcard && named.length === 0) return "a wildcard needs a domain after '*.'";
  if (alias.includes("*") && !(wildcard && !named.some((label) => label.includes("*")))) {
    return "a wildcard may only be one leading '*.' label (as in *.example.com)";
  }
  for (const label of named) {
    if (!labelPattern.test(label)) {
      return "each label must be 1–63 lower-case letters, digits or inner hyphens, separated by single dots";
    }
  }
  if (/^[0-9]+$/.test(named[named.length - 1]!)) {
    return "its last label is all digits, which is read as an IP address";
  }
  return undefined;
}

/** Whether alias is a wildcard (*.example.com). */
export function isWildcardAlias(alias: string): boolean {
  return alias.startsWith("*.");
}
