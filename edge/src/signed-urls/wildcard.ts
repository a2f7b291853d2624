/**
 * CloudFront policy Resource matching: `*` is any run of characters
 * (possibly empty), `?` exactly one, everything else itself, case-sensitive.
 *
 * Greedy two-pointer matching with one backtrack point (the last `*`): time
 * O(pattern × text) in the worst case, no regular expression built from
 * input, no recursion — a hostile policy cannot make it blow up.
 */
export function matchesWildcard(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let starAt = -1;
  let textAtStar = 0;
  while (t < text.length) {
    const c = pattern.charCodeAt(p);
    if (p < pattern.length && (c === 0x3f /* ? */ || c === text.charCodeAt(t))) {
      p++;
      t++;
    } else if (p < pattern.length && c === 0x2a /* * */) {
      starAt = p++;
      textAtStar = t;
    } else if (starAt !== -1) {
      p = starAt + 1;
      t = ++textAtStar;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern.charCodeAt(p) === 0x2a) p++;
  return p === pattern.length;
}
