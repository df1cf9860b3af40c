// Effect Schema's decoding errors as the one-line messages users get: the field's path, then what is wrong.
import { Cause } from "effect"

/** Turns Effect Schema's "message\n  at ["a"][0]["b"]" into "a[0].b: message". */
export const describeSchemaError = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause) as { message?: unknown }
  const text = String(error.message ?? error)
  const [message = text, ...rest] = text.split("\n")
  const at = rest.find((line) => line.trim().startsWith("at "))
  if (at === undefined) return message
  const path = at
    .trim()
    .slice(3)
    .replace(/\["([^"]*)"\]/g, ".$1")
    .replace(/^\./, "")
  const friendly = message === "Expected no excess property" ? "unknown field" : message
  return `${path}: ${friendly}`
}
