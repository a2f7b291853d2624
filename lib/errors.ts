/**
 * The base of every error streamfront raises on purpose. Each component keeps
 * one errors module whose codes are stable strings (they appear in logs and
 * alerts), in the manner of undici's `UND_ERR_*` codes.
 */
export class StreamfrontError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StreamfrontError";
    this.code = code;
  }
}

/** A message for any thrown value, for logs. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** The stable code of a thrown value, or undefined when it has none. */
export function errorCode(error: unknown): string | undefined {
  if (typeof error === "object" && error !== null && "code" in error) {
    const code = (error as { code: unknown }).code;
    if (typeof code === "string") return code;
  }
  return undefined;
}
