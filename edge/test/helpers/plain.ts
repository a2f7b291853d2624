import type { AmfValue } from "../../src/rtmp/amf0.js";

/**
 * A deep copy of a decoded AMF value whose objects have the ordinary
 * prototype, so it can be compared with object literals by deepStrictEqual
 * (decoded objects are prototype-less on purpose).
 */
export function toPlain(value: AmfValue): AmfValue {
  if (Array.isArray(value)) return value.map(toPlain);
  if (value === null || typeof value !== "object" || value instanceof Date) return value;
  const out: { [key: string]: AmfValue } = {};
  for (const key of Object.keys(value)) {
    Object.defineProperty(out, key, {
      value: toPlain(value[key]),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}
