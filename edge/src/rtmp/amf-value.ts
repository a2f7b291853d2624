/**
 * The values AMF0 and AMF3 decode to. In a file of their own so amf0.ts (which
 * hands AVM+ values to amf3.ts) and amf3.ts (which builds these values) do not
 * import each other.
 */
export type AmfValue = number | boolean | string | null | undefined | Date | AmfObject | AmfValue[];
export interface AmfObject {
  [key: string]: AmfValue;
}
