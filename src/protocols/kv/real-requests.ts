// Reading key-value requests from the command line and HTTP, as every key-value store's real client
// does: `put KEY VALUE` arguments, and `/kv/KEY` or `/kv/KEY/ACTION` paths.
import type { ClientAnswer, ClientRequestParse } from "../../definition/real-client.ts"

/** A path `/kv/KEY` or `/kv/KEY/ACTION`, its key percent-decoded; undefined for any other path. */
export const kvRoute = (path: string): { readonly key: string; readonly action: string | undefined } | undefined => {
  const match = /^\/kv\/([^/]+)(?:\/([^/]+))?$/.exec(path)
  if (match === null) return undefined
  try {
    return { key: decodeURIComponent(match[1]!), action: match[2] }
  } catch {
    // A malformed escape (`%zz`) names no key.
    return undefined
  }
}

/** The answer to a path that is no route. */
export const noKvRoute = (method: string, path: string, routes: string): ClientRequestParse<never> => ({
  _tag: "NotFound",
  message: `no route ${method} ${path} (see ${routes} and /status)`
})

/** The arguments of `faultline client NAME`, when there are as many as `usage` names (a trailing `[X]` is optional). */
export const checkArity = (name: string, args: ReadonlyArray<string>, usage: string): ClientRequestParse<never> | undefined => {
  const words = usage.split(" ").filter((word) => word !== "")
  const optional = words.filter((word) => word.startsWith("[")).length
  if (args.length >= words.length - optional && args.length <= words.length) return undefined
  return { _tag: "Invalid", message: `client ${name}: expected ${usage}, got ${args.length} argument${args.length === 1 ? "" : "s"}` }
}

/** The request is this operation. */
export const operation = <Operation>(value: Operation): ClientRequestParse<Operation> => ({ _tag: "Operation", operation: value })

/** The request is a bad one, for this reason. */
export const invalid = (message: string): ClientRequestParse<never> => ({ _tag: "Invalid", message })

/** The answer when no final outcome came in time: a write may or may not have happened. */
export const UNKNOWN_ANSWER: ClientAnswer = {
  known: false,
  status: 503,
  body: { error: "no answer from the cluster in time; a write may or may not have happened", outcome: "unknown" },
  text: "unknown: no answer from the cluster in time (a write may or may not have happened)"
}

/** The answer to a write the cluster took. */
export const OK_ANSWER: ClientAnswer = { known: true, status: 200, body: { ok: true }, text: "ok" }
