/*
 * Small PromQL builders the dashboards share, so that every query carries the namespace matcher and
 * rates use Grafana's $__rate_interval.
 */

/** `metric{namespace=~"$namespace", …matchers}`. */
export function sel(metric: string, ...matchers: string[]): string {
  return `${metric}{${['namespace=~"$namespace"', ...matchers].join(", ")}}`;
}

/** `rate(metric{…}[$__rate_interval])`. */
export function rate(metric: string, ...matchers: string[]): string {
  return `rate(${sel(metric, ...matchers)}[$__rate_interval])`;
}

/** The q-quantile of a histogram's rate, by `by` (le added). */
export function quantile(q: number, histogram: string, by: readonly string[], ...matchers: string[]): string {
  return `histogram_quantile(${q}, sum by (${["le", ...by].join(", ")}) (${rate(`${histogram}_bucket`, ...matchers)}))`;
}

/** The numerator per `by` over the denominator per `by`, 0 (not absent) where the numerator counted nothing. */
export function ratio(numerator: string, denominator: string, by: readonly string[]): string {
  const group = by.length > 0 ? ` by (${by.join(", ")})` : "";
  return `(sum${group} (${numerator}) or sum${group} (${denominator}) * 0) / sum${group} (${denominator})`;
}

/** A process_/nodejs_ default series narrowed to the edges (every component serves them). */
export function onEdges(expr: string): string {
  return `${expr} and on (job, instance) streamfront_edge_build_info`;
}
