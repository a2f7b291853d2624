import { XMLParser, XMLValidator } from "fast-xml-parser";
import { ApiError } from "./api-error.js";

/**
 * A hardened reader for the small XML documents clients send (configs, tags).
 * It turns a request body into a plain element tree, and gives the schema
 * readers of each API version helpers that fail with the CloudFront error a
 * client should see. Nothing but ApiError leaves this module for bad input.
 *
 * Order of checks, cheapest and most dangerous first:
 *   1. size (before decoding)                → EntityTooLarge
 *   2. strict UTF-8 decode                   → MalformedXML
 *   3. no DOCTYPE / ENTITY anywhere          → MalformedXML (no entity expansion)
 *   4. no characters XML forbids             → MalformedXML
 *   5. linear pre-scan: element count, depth, other `<!` declarations
 *                                            → MalformedXML
 *   6. fast-xml-parser XMLValidator (well-formedness) → MalformedXML
 *   7. XMLParser (ordered output, no entity or value processing)
 *   8. tree build: one root, entity references decoded by us → MalformedXML
 * Schema checks then give MalformedInput (structure), InvalidArgument
 * (values), InconsistentQuantities, InappropriateXML (wrong root).
 */

export const xmlInputLimits = {
  /** Default request body bound; CloudFront documents none. A max-size config with 50 tags is about 30 KiB. */
  maxBodyBytes: 64 * 1024,
  /** The largest valid document (50 tags) has under 200 elements. */
  maxElements: 1000,
  /** Valid documents nest at most 5 deep. */
  maxDepth: 16,
  /** Element names (ours are at most 35 characters). */
  maxNameChars: 64,
  /** Any one text value; each field then has its own, smaller limit. */
  maxTextChars: 4096,
} as const;

/** One element: its name, its path from the root (for messages), children, and its text. */
export interface XmlElement {
  readonly name: string;
  /** e.g. StreamingDistributionConfig/S3Origin/DomainName */
  readonly path: string;
  readonly children: readonly XmlElement[];
  /** All character data directly inside the element (text and CDATA), entities decoded. */
  readonly text: string;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching the controls is the point
const forbiddenChar = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;
const declaration = /<!\s*(?:DOCTYPE|ENTITY)/i;
const whitespaceOnly = /^[ \t\r\n]*$/;

const parser = new XMLParser({
  // Ordered output keeps duplicates and order visible, and never merges
  // repeated elements into arrays behind our back.
  preserveOrder: true,
  ignoreAttributes: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  // Keep every value a string exactly as written; we trim and type it.
  parseTagValue: false,
  trimValues: false,
  // We decode the five predefined entities and character references
  // ourselves (the library leaves &#65; alone and drops &#0;), and keep CDATA
  // apart so it is not entity-decoded.
  processEntities: false,
  htmlEntities: false,
  cdataPropName: "#cdata",
  maxNestedTags: xmlInputLimits.maxDepth + 1,
});

type OrderedNode = Record<string, unknown>;

function malformed(message: string): ApiError {
  return new ApiError("MalformedXML", message);
}

/**
 * The root element of an XML request body.
 * @param maxBodyBytes bound on the body, checked before anything is decoded
 */
export function readXmlDocument(
  body: Uint8Array,
  maxBodyBytes: number = xmlInputLimits.maxBodyBytes,
): XmlElement {
  if (body.length > maxBodyBytes) {
    throw new ApiError(
      "EntityTooLarge",
      `The request body is too large (${body.length} bytes; the maximum is ${maxBodyBytes}).`,
    );
  }
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw malformed("The request body is not valid UTF-8.");
  }
  if (whitespaceOnly.test(text)) throw new ApiError("MissingBody", "The request body is empty.");
  if (declaration.test(text)) throw malformed("DOCTYPE and ENTITY declarations are not allowed.");
  // (Strict UTF-8 decoding already rules out lone surrogates.)
  if (forbiddenChar.test(text)) {
    throw malformed("The XML contains a character that XML does not allow.");
  }
  prescan(text);
  let valid: ReturnType<typeof XMLValidator.validate>;
  let nodes: unknown;
  try {
    valid = XMLValidator.validate(text);
    nodes = valid === true ? parser.parse(text) : undefined;
  } catch {
    // The library throws plain Errors for names it refuses (e.g. __proto__).
    throw malformed("The XML you provided was not well-formed.");
  }
  if (valid !== true) {
    const { msg, line, col } = valid.err;
    const where = col === undefined ? `line ${line}` : `line ${line}, column ${col}`;
    // The validator's message may quote a tag name of any length.
    const detail = msg.length > 160 ? `${msg.slice(0, 160)}…` : msg;
    throw malformed(`The XML you provided was not well-formed: ${detail} (${where}).`);
  }
  return buildRoot(nodes);
}

/**
 * One linear pass over the markup that bounds what the parser will see:
 * element count and nesting depth, and no declarations other than comments
 * and CDATA. Quoted attribute values are skipped so a `>` inside one does not
 * end the tag. Well-formedness proper is left to the validator.
 */
function prescan(text: string): void {
  let elements = 0;
  let depth = 0;
  let at = text.indexOf("<");
  checkOutsideText(text, 0, at < 0 ? text.length : at);
  while (at >= 0) {
    if (text.startsWith("<!--", at)) {
      at = skipPast(text, "-->", at + 4);
    } else if (text.startsWith("<![CDATA[", at)) {
      at = skipPast(text, "]]>", at + 9);
    } else if (text.startsWith("<?", at)) {
      at = skipPast(text, "?>", at + 2);
    } else if (text.startsWith("<!", at)) {
      throw malformed("XML declarations other than comments and CDATA are not allowed.");
    } else {
      const closing = text[at + 1] === "/";
      let end = at + 1;
      let quote = "";
      for (; end < text.length; end++) {
        const c = text[end];
        if (quote !== "") {
          if (c === quote) quote = "";
        } else if (c === '"' || c === "'") {
          quote = c;
        } else if (c === ">") {
          break;
        }
      }
      if (end >= text.length) throw malformed("The XML you provided was not well-formed: unterminated tag.");
      if (closing) {
        depth--;
      } else {
        elements++;
        if (elements > xmlInputLimits.maxElements) {
          throw malformed(`The XML has more than ${xmlInputLimits.maxElements} elements.`);
        }
        if (text[end - 1] !== "/") {
          depth++;
          if (depth > xmlInputLimits.maxDepth) {
            throw malformed(`The XML nests elements more than ${xmlInputLimits.maxDepth} deep.`);
          }
        }
      }
      at = end + 1;
    }
    const next = text.indexOf("<", at);
    if (depth === 0) checkOutsideText(text, at, next < 0 ? text.length : next);
    at = next;
  }
}

/** Only whitespace may stand outside the root element (the parser would drop it silently). */
function checkOutsideText(text: string, from: number, to: number): void {
  if (!whitespaceOnly.test(text.slice(from, to))) throw malformed("Text outside the root element.");
}

function skipPast(text: string, terminator: string, from: number): number {
  const end = text.indexOf(terminator, from);
  if (end < 0) throw malformed("The XML you provided was not well-formed: unterminated comment or section.");
  return end + terminator.length;
}

function buildRoot(nodes: unknown): XmlElement {
  if (!Array.isArray(nodes)) throw malformed("The XML you provided was not well-formed.");
  let root: XmlElement | undefined;
  for (const node of nodes as readonly unknown[]) {
    const name = nodeName(node);
    if (name === "#text") {
      if (!whitespaceOnly.test(textOf(node))) throw malformed("Text outside the root element.");
    } else if (name === "#cdata") {
      throw malformed("CDATA outside the root element.");
    } else if (root !== undefined) {
      throw malformed("The XML has more than one root element.");
    } else {
      root = buildElement(node as OrderedNode, name, name, 1);
    }
  }
  if (root === undefined) throw malformed("The XML has no root element.");
  return root;
}

function buildElement(node: OrderedNode, name: string, path: string, depth: number): XmlElement {
  if (depth > xmlInputLimits.maxDepth) throw malformed("The XML nests elements too deep.");
  // Paths go into error messages; no element of ours has a name this long.
  if (name.length > xmlInputLimits.maxNameChars) {
    const parent = path.slice(0, Math.max(0, path.length - name.length - 1));
    throw new ApiError(
      "MalformedInput",
      `Unexpected element with a ${name.length}-character name in ${parent || "the document"}.`,
    );
  }
  const content = node[name];
  if (!Array.isArray(content)) throw malformed("The XML you provided was not well-formed.");
  const children: XmlElement[] = [];
  let text = "";
  for (const child of content as readonly unknown[]) {
    const childName = nodeName(child);
    if (childName === "#text") {
      text += decodeEntities(textOf(child));
    } else if (childName === "#cdata") {
      const parts = (child as OrderedNode)["#cdata"];
      if (Array.isArray(parts)) for (const part of parts as readonly unknown[]) text += textOf(part);
    } else {
      children.push(buildElement(child as OrderedNode, childName, `${path}/${childName}`, depth + 1));
    }
    if (text.length > xmlInputLimits.maxTextChars) {
      throw new ApiError(
        "InvalidArgument",
        `The text of ${path} is too long (over ${xmlInputLimits.maxTextChars} characters).`,
      );
    }
  }
  return { name, path, children, text };
}

/** The element name of an ordered node ({name: children} or {"#text": "…"}). */
function nodeName(node: unknown): string {
  if (typeof node !== "object" || node === null) throw malformed("The XML you provided was not well-formed.");
  // ":@" holds attributes when they are kept; we ignore them.
  const keys = Object.keys(node).filter((k) => k !== ":@");
  if (keys.length !== 1) throw malformed("The XML you provided was not well-formed.");
  return keys[0]!;
}

function textOf(node: unknown): string {
  const value = (node as OrderedNode)["#text"];
  return typeof value === "string" ? value : "";
}

const reference = /&([^;&]{0,12});/g;
const predefined: Readonly<Record<string, string>> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

/**
 * Character data with its references resolved: the five predefined entities
 * and &#N; / &#xN; (which must name a character XML allows). Any other
 * entity is undefined, since documents have no DTD.
 */
function decodeEntities(raw: string): string {
  if (!raw.includes("&")) return raw;
  // The validator refuses a bare &; this also catches a reference whose name
  // is too long for the pattern (no entity we accept is longer than 10).
  if (raw.replace(reference, "").includes("&")) throw malformed("The XML has a malformed entity reference.");
  return raw.replace(reference, (_match, name: string) => {
    const known = predefined[name];
    if (known !== undefined) return known;
    const numeric = /^#(?:([0-9]{1,7})|x([0-9a-fA-F]{1,6}))$/.exec(name);
    if (numeric === null) throw malformed(`The XML refers to an undefined entity &${name};.`);
    const codePoint = numeric[1] !== undefined ? Number(numeric[1]) : Number.parseInt(numeric[2] ?? "", 16);
    if (!isXmlCodePoint(codePoint)) throw malformed(`The XML has an invalid character reference &${name};.`);
    return String.fromCodePoint(codePoint);
  });
}

function isXmlCodePoint(c: number): boolean {
  return (
    c === 0x9 ||
    c === 0xa ||
    c === 0xd ||
    (c >= 0x20 && c <= 0xd7ff) ||
    (c >= 0xe000 && c <= 0xfffd) ||
    (c >= 0x10000 && c <= 0x10ffff)
  );
}

// ---------------------------------------------------------------------------
// Schema helpers. Each reports the element path, so a client can see which
// element of its document is wrong.

function malformedInput(message: string): ApiError {
  return new ApiError("MalformedInput", message);
}

/** A value for a message: quoted and cut short, so messages stay small. */
export function quoteValue(value: string): string {
  return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
}

/** Throws InappropriateXML unless the root element is one this operation takes. */
export function expectRoot(root: XmlElement, expected: string): void {
  if (root.name !== expected) {
    throw new ApiError(
      "InappropriateXML",
      `The XML document you provided was well-formed and valid, but not appropriate for this operation: the root element is ${root.name}, this operation takes ${expected}.`,
    );
  }
}

/**
 * The children of a structure element by name, after checking that each is
 * one it may have, none repeats, every required one is there, and there is
 * no stray text between them.
 */
export function readStruct<const R extends string, const O extends string = never>(
  element: XmlElement,
  requiredNames: readonly R[],
  optionalNames: readonly O[] = [],
): { readonly [P in R]: XmlElement } & { readonly [P in O]?: XmlElement } {
  if (!whitespaceOnly.test(element.text)) {
    throw malformedInput(`Element ${element.path} must contain elements, not text.`);
  }
  const allowed = new Set<string>([...requiredNames, ...optionalNames]);
  // No prototype: a child named like an Object.prototype member stays data.
  const found: Record<string, XmlElement> = Object.create(null);
  for (const child of element.children) {
    if (!allowed.has(child.name)) throw malformedInput(`Unexpected element ${child.path}.`);
    if (Object.hasOwn(found, child.name))
      throw malformedInput(`Element ${child.path} appears more than once.`);
    found[child.name] = child;
  }
  for (const name of requiredNames) {
    if (!Object.hasOwn(found, name))
      throw malformedInput(`Missing required element ${element.path}/${name}.`);
  }
  return found as { readonly [P in R]: XmlElement } & { readonly [P in O]?: XmlElement };
}

/** The text of a leaf element, as written. */
export function readText(element: XmlElement): string {
  if (element.children.length > 0) {
    throw malformedInput(`Element ${element.path} must contain text, not elements.`);
  }
  return element.text;
}

/** The text of a leaf element whose value is a token (name, number, flag): surrounding whitespace is dropped. */
export function readToken(element: XmlElement): string {
  return readText(element).trim();
}

/** xs:boolean: true, false, 1 or 0. */
export function readBoolean(element: XmlElement): boolean {
  const value = readToken(element);
  if (value === "true" || value === "1") return true;
  if (value === "false" || value === "0") return false;
  throw new ApiError(
    "InvalidArgument",
    `Invalid value ${quoteValue(value)} for ${element.path}: expected true or false.`,
  );
}

/** A non-negative integer (a Quantity or MaxItems). */
function readCount(element: XmlElement): number {
  const value = readToken(element);
  if (!/^[0-9]{1,9}$/.test(value)) {
    throw new ApiError(
      "InvalidArgument",
      `Invalid value ${quoteValue(value)} for ${element.path}: expected a non-negative integer.`,
    );
  }
  return Number(value);
}

/**
 * The elements of a list: every child of `items` must be `itemName`.
 * `items` may be absent (no elements).
 */
export function readListItems(items: XmlElement | undefined, itemName: string): readonly XmlElement[] {
  if (items === undefined) return [];
  if (!whitespaceOnly.test(items.text)) {
    throw malformedInput(`Element ${items.path} must contain ${itemName} elements, not text.`);
  }
  for (const child of items.children) {
    if (child.name !== itemName)
      throw malformedInput(`Unexpected element ${child.path}; expected ${itemName}.`);
  }
  return items.children;
}

/**
 * The items of a Quantity/Items pair (API ≥ 2012-05-05):
 *
 *   <X><Quantity>2</Quantity><Items><Item/><Item/></Items></X>
 *
 * InconsistentQuantities when Quantity is not the number of items.
 */
export function readQuantityItems(
  parent: XmlElement,
  quantity: XmlElement,
  items: XmlElement | undefined,
  itemName: string,
): readonly XmlElement[] {
  const count = readCount(quantity);
  const list = readListItems(items, itemName);
  if (count !== list.length) {
    throw new ApiError(
      "InconsistentQuantities",
      `The value of ${parent.path}/Quantity (${count}) and the number of ${itemName} items (${list.length}) do not match.`,
    );
  }
  return list;
}
