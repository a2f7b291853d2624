/**
 * The few pieces every XML response is built from. Responses are small and
 * fixed in shape, so they are assembled as strings; every text value goes
 * through escapeXmlText, and element names are always literals of ours.
 */

export const xmlDeclaration = '<?xml version="1.0" encoding="UTF-8"?>';

/** The XML namespace of an API version, as CloudFront writes it on the root element. */
function cloudFrontNamespace(apiVersion: string): string {
  return `http://cloudfront.amazonaws.com/doc/${apiVersion}/`;
}

/**
 * Characters XML 1.0 cannot carry at all (C0 controls other than tab, LF, CR;
 * lone surrogates; U+FFFE/U+FFFF). They are replaced, not escaped: even
 * `&#1;` is not well-formed.
 */
const notXmlChar =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching the controls is the point
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const needsEscape = /[&<>"\r]/g;
const escapes: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  // A literal CR would be normalised to LF by the reader; the reference keeps it.
  "\r": "&#13;",
};

/** text made safe as element content or a double-quoted attribute value. */
export function escapeXmlText(text: string): string {
  return text.replace(notXmlChar, "\uFFFD").replace(needsEscape, (c) => escapes[c] ?? c);
}

/** `<name>text</name>` with the text escaped. */
export function leaf(name: string, text: string): string {
  return `<${name}>${escapeXmlText(text)}</${name}>`;
}

/** `<name>…</name>` around already-rendered children. */
export function element(name: string, ...children: readonly string[]): string {
  return `<${name}>${children.join("")}</${name}>`;
}

/** The root element of a response document: declaration, namespace, children. */
export function rootElement(name: string, apiVersion: string, ...children: readonly string[]): string {
  return `${xmlDeclaration}<${name} xmlns="${escapeXmlText(cloudFrontNamespace(apiVersion))}">${children.join("")}</${name}>`;
}

export function booleanText(value: boolean): string {
  return value ? "true" : "false";
}

/**
 * A timestamp as CloudFront writes it: ISO-8601 UTC with milliseconds,
 * e.g. 2026-11-22T10:00:00.000Z (the SDKs parse it into a Date).
 */
export function timestampText(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * CloudFront's list wrapper (API ≥ 2012-05-05):
 *
 *   <Quantity>n</Quantity><Items><Item>…</Item>…</Items>
 *
 * Items is left out when empty, as the SDKs do when they send one (and as
 * CloudFront answers; an empty <Items/> once broke clients).
 */
export function quantityItems(items: readonly string[]): string {
  const quantity = leaf("Quantity", String(items.length));
  return items.length === 0 ? quantity : quantity + element("Items", ...items);
}
