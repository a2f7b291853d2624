/**
 * A small W3C extended log reader, for tests that read delivered access
 * logs back: `#Fields:` names the columns, `#` lines are directives, every
 * other line is one tab-separated record; `-` is an empty field and
 * %XX escapes are decoded.
 */

export interface W3cLog {
  readonly version: string | undefined;
  readonly fields: readonly string[];
  readonly records: readonly Readonly<Record<string, string>>[];
}

export function parseW3cLog(text: string): W3cLog {
  let version: string | undefined;
  let fields: string[] = [];
  const records: Record<string, string>[] = [];
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  for (const [index, line] of lines.entries()) {
    if (line.startsWith("#Version:")) {
      version = line.slice("#Version:".length).trim();
      continue;
    }
    if (line.startsWith("#Fields:")) {
      fields = line.slice("#Fields:".length).trim().split(/\s+/);
      continue;
    }
    if (line.startsWith("#")) continue;
    if (fields.length === 0) throw new Error(`line ${index + 1}: a record before #Fields`);
    const values = line.split("\t");
    if (values.length !== fields.length)
      throw new Error(`line ${index + 1}: ${values.length} fields, #Fields names ${fields.length}`);
    const record: Record<string, string> = {};
    for (const [i, name] of fields.entries()) record[name] = decodeField(values[i]!);
    records.push(record);
  }
  return { version, fields, records };
}

/** A field's value: "" for `-`, %XX escapes decoded as UTF-8. */
export function decodeField(value: string): string {
  if (value === "-") return "";
  if (/[\s"\\]/.test(value)) throw new Error(`unescaped character in field ${JSON.stringify(value)}`);
  return Buffer.from(
    value.replace(/%([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16))),
    "latin1",
  ).toString("utf8");
}
