import { z } from "zod";

/**
 * Parsers from a setting's text to its value. Every one takes a string (the
 * flag or environment value) and says in plain words what it expected.
 */

export function integer(min: number, max: number): z.ZodType<number, string> {
  return z
    .string()
    .trim()
    .regex(/^-?\d+$/, { message: "expected a whole number" })
    .transform((text) => Number(text))
    .pipe(
      z
        .number()
        .min(min, { message: `must be at least ${min}` })
        .max(max, { message: `must be at most ${max}` }),
    );
}

export function port(): z.ZodType<number, string> {
  return integer(0, 65535);
}

export function boolean(): z.ZodType<boolean, string> {
  return z
    .string()
    .trim()
    .toLowerCase()
    .refine((text) => ["true", "false", "1", "0", "yes", "no"].includes(text), {
      message: "expected true or false",
    })
    .transform((text) => text === "true" || text === "1" || text === "yes");
}

export function text(options: { min?: number; max?: number; pattern?: RegExp; hint?: string } = {}) {
  let schema = z
    .string()
    .trim()
    .min(options.min ?? 0, { message: `must be at least ${options.min ?? 0} characters` })
    .max(options.max ?? 4096, { message: `must be at most ${options.max ?? 4096} characters` });
  if (options.pattern)
    schema = schema.regex(options.pattern, { message: options.hint ?? "has the wrong form" });
  return schema;
}

export function oneOf<const T extends readonly [string, ...string[]]>(
  values: T,
): z.ZodType<T[number], string> {
  return z
    .string()
    .trim()
    .refine((v): v is T[number] => (values as readonly string[]).includes(v), {
      message: `expected one of ${values.join(", ")}`,
    }) as unknown as z.ZodType<T[number], string>;
}

/** host:port, with an IPv6 host in brackets. */
export function hostPort(): z.ZodType<string, string> {
  return text({
    min: 3,
    max: 300,
    pattern: /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/,
    hint: "expected host:port",
  });
}

export function url(): z.ZodType<string, string> {
  return z
    .string()
    .trim()
    .refine(
      (v) => {
        try {
          const parsed = new URL(v);
          return parsed.protocol === "http:" || parsed.protocol === "https:";
        } catch {
          return false;
        }
      },
      { message: "expected an http:// or https:// URL" },
    );
}

/** A comma-separated list of items each checked by item. */
export function list(item: z.ZodType<string, string>): z.ZodType<readonly string[], string> {
  return z.string().transform((v, ctx) => {
    const out: string[] = [];
    for (const part of v.split(",")) {
      const trimmed = part.trim();
      if (trimmed.length === 0) continue;
      const parsed = item.safeParse(trimmed);
      if (!parsed.success) {
        ctx.addIssue({
          code: "custom",
          message: `${JSON.stringify(trimmed)}: ${parsed.error.issues[0]?.message}`,
        });
        return z.NEVER;
      }
      out.push(parsed.data);
    }
    return out;
  });
}

export const logLevels = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof logLevels)[number];
