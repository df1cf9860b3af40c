// A failed program's cause as the one line the CLI prints (kept apart from errors.ts, which the CLI loads before Effect).
import { Cause } from "effect"

/**
 * A failed program's cause in one line, as a node that stops on an error and a load whose client
 * failed print it: an environment failure's reason, or the error's first line.
 */
export const describeFailure = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause) as { reason?: unknown; message?: unknown; _tag?: unknown }
  // A damaged file's message names the file and the line; an environment failure's reason says what failed.
  const text = error._tag !== "StorageCorruption" && typeof error.reason === "string" ? error.reason : String(error.message ?? error)
  return text.split("\n")[0] ?? text
}
