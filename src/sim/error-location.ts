// Where an error from a user's code was thrown, as `file:line`, for one-line messages.
import { fileURLToPath } from "node:url"
import { relative } from "node:path"

/**
 * The `file:line` of the first stack frame of `error` that is not in Node's internals or in an
 * installed package: the user's own code that threw. Undefined when there is no such frame.
 */
export const errorLocation = (error: unknown): string | undefined => {
  const stack = error instanceof Error ? error.stack : undefined
  if (stack === undefined) return undefined
  for (const line of stack.split("\n").slice(1)) {
    const match = /\(?((?:file:\/\/)?[^\s()]+):(\d+):\d+\)?\s*$/.exec(line.trim())
    if (match === null) continue
    const [, where = "", lineNumber] = match
    if (where.startsWith("node:") || where.includes("/node_modules/")) continue
    const path = where.startsWith("file://") ? fileURLToPath(where) : where
    return `${relative(process.cwd(), path) || path}:${lineNumber}`
  }
  return undefined
}

/** The first line of an error's message. */
export const errorMessage = (error: unknown): string =>
  String(error instanceof Error ? error.message : error).split("\n")[0] ?? ""
