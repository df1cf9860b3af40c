// Bad input in what a user gives a protocol (a scenario, its options), and the names of a cluster's servers: shared by every world.
import { Cause } from "effect"

/** Bad input in a scenario or a protocol's options: the message names the file and the field. */
export class ScenarioError extends Error {
  override readonly name = "ScenarioError"
}

/** Server ids for a cluster of `count` nodes: n1, n2, … */
export const serverIds = (count: number): Array<string> => Array.from({ length: count }, (_, index) => `n${index + 1}`)

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
