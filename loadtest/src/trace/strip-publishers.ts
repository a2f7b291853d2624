/**
 * The same compiled module with its trace publishers taken out: every
 * statement `if (traces.X.hasSubscribers) …;` (or `{ … }`) is removed, and
 * any other `traces.X.hasSubscribers` becomes `false`. It is the baseline
 * `npm run bench:trace` compares the real module against: the hot path as
 * if tracing had never been written. Pure text work on tsc's output, which
 * keeps each guard as written.
 */
export function stripPublishers(js: string): { readonly code: string; readonly removed: number } {
  let out = "";
  let at = 0;
  let removed = 0;
  const guard = "if (traces.";
  for (let start = js.indexOf(guard); start >= 0; start = js.indexOf(guard, at)) {
    const open = start + "if ".length;
    const conditionEnd = matching(js, open);
    const condition = js.slice(open + 1, conditionEnd);
    if (!/^traces\.\w+\.hasSubscribers$/.test(condition)) {
      out += js.slice(at, conditionEnd + 1);
      at = conditionEnd + 1;
      continue;
    }
    let body = conditionEnd + 1;
    while (/\s/.test(js[body] ?? "")) body++;
    const end = js[body] === "{" ? matching(js, body) + 1 : statementEnd(js, body);
    out += js.slice(at, start);
    at = end;
    removed++;
  }
  out += js.slice(at);
  const code = out.replace(/traces\.\w+\.hasSubscribers/g, "false");
  if (/traces\.\w+\.publish\(/.test(code)) throw new Error("a publish call is left after stripping");
  return { code, removed };
}

/** The index of the bracket closing the one at `open`. */
function matching(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (c === "(" || c === "{" || c === "[") depth++;
    else if (c === ")" || c === "}" || c === "]") {
      depth--;
      if (depth === 0) return i;
    }
  }
  throw new Error(`unbalanced bracket at ${open}`);
}

/** Just past the `;` that ends the statement starting at `from` (outside brackets). */
function statementEnd(text: string, from: number): number {
  let depth = 0;
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (c === "(" || c === "{" || c === "[") depth++;
    else if (c === ")" || c === "}" || c === "]") depth--;
    else if (c === ";" && depth === 0) return i + 1;
  }
  throw new Error(`no end of statement after ${from}`);
}
