// `faultline client`: key-value operations on a real cluster from the command line, found through its data directory or a peer list.
import { join } from "node:path"
import { Effect } from "effect"
import type { ClientOutcome } from "../protocols/raft/client-messages.ts"
import type { KvOperation } from "../protocols/raft/types.ts"
import { type Address, parsePeers, readSecretFile } from "../real/index.ts"
import { readCluster, serverAddresses } from "./cluster-file.ts"
import { parseDurationFlag, UsageError } from "./errors.ts"
import type { ClusterAccess } from "./kv-client.ts"
import { freshClientId, openKvClient } from "./kv-client.ts"
import { parseValue } from "./kv-http.ts"

/** Flags shared by the commands that reach a running cluster. */
export interface AccessFlags {
  readonly data?: string
  readonly peers?: string
  readonly secretFile?: string
}

/** Flags of `faultline client`. */
export interface ClientFlags extends AccessFlags {
  readonly timeout?: string
  readonly json?: boolean
}

/** Exit codes of `faultline client`: 0 a definite answer (a cas that did not match included), 2 bad input, 3 unknown outcome. */
export const ClientExit = { answered: 0, badInput: 2, unknown: 3 } as const

/** Where the cluster is: `--peers` (with `--secret-file`), or the description in `--data` (default ./data). */
export const clusterAccess = async (flags: AccessFlags): Promise<ClusterAccess> => {
  let servers: Record<string, Address>
  let secretFile: string
  if (flags.peers !== undefined) {
    const parsed = parsePeers(flags.peers.split(",").filter((entry) => entry.trim() !== ""))
    if (typeof parsed === "string") throw new UsageError(`--peers: ${parsed}`)
    servers = parsed
    secretFile = flags.secretFile ?? join(flags.data ?? "data", "cluster.secret")
  } else {
    const description = readCluster(flags.data ?? "data")
    servers = serverAddresses(description)
    secretFile = flags.secretFile ?? description.secretFile
  }
  const secret = await Effect.runPromise(Effect.result(readSecretFile(secretFile)))
  if (secret._tag === "Failure") throw new UsageError(`--secret-file: ${secret.failure.reason}`)
  return { servers, secret: secret.success }
}

/** The operation the arguments name, such as `put k v` or `cas k old new`. */
export const operationFromArguments = (name: string, args: ReadonlyArray<string>): KvOperation => {
  const need = (count: number, usage: string) => {
    if (args.length !== count) throw new UsageError(`client ${name}: expected ${usage}, got ${args.length} argument${args.length === 1 ? "" : "s"}`)
  }
  switch (name) {
    case "get":
      need(1, "KEY")
      return { _tag: "Get", key: args[0]! }
    case "put":
      need(2, "KEY VALUE")
      return { _tag: "Put", key: args[0]!, value: parseValue(args[1]!) }
    case "append":
      need(2, "KEY VALUE")
      return { _tag: "Append", key: args[0]!, value: parseValue(args[1]!) }
    case "cas":
      need(3, "KEY EXPECTED NEW")
      return { _tag: "Cas", key: args[0]!, expected: parseValue(args[1]!), value: parseValue(args[2]!) }
    case "delete":
      need(1, "KEY")
      return { _tag: "Delete", key: args[0]! }
    default:
      throw new UsageError(`client: unknown operation "${name}" (get, put, cas, append, delete)`)
  }
}

/** The answer in words, or as JSON. */
const describeOutcome = (outcome: ClientOutcome | undefined, json: boolean): string => {
  if (outcome === undefined) {
    return json ? JSON.stringify({ outcome: "unknown" }) : "unknown: no answer from the cluster in time (a write may or may not have happened)"
  }
  switch (outcome._tag) {
    case "Value":
      return json ? JSON.stringify({ value: outcome.value }) : JSON.stringify(outcome.value)
    case "Ok":
      return json ? JSON.stringify({ ok: true }) : "ok"
    case "CasResult":
      if (json) return JSON.stringify(outcome.ok ? { ok: true } : { ok: false, current: outcome.current })
      return outcome.ok ? "ok" : `not applied: the value is ${JSON.stringify(outcome.current)}`
    case "NotLeader":
    case "Retry":
      return json ? JSON.stringify({ outcome: "unknown" }) : `unknown: the cluster answered ${outcome._tag} to the end`
    default: {
      const unreachable: never = outcome
      throw new Error(`unknown outcome ${JSON.stringify(unreachable)}`)
    }
  }
}

/** Runs the command: one operation, its answer on stdout. */
export const clientCommand = async (name: string, args: ReadonlyArray<string>, flags: ClientFlags): Promise<number> => {
  const operation = operationFromArguments(name, args)
  const timeoutMs = flags.timeout === undefined ? 10_000 : parseDurationFlag("--timeout", flags.timeout, { minimumMs: 1 })
  const access = await clusterAccess(flags)
  const client = await openKvClient({ ...access, clientId: freshClientId("cli"), operationTimeoutMs: timeoutMs })
  try {
    const outcome = await client.perform(operation)
    process.stdout.write(describeOutcome(outcome, flags.json === true) + "\n")
    return outcome === undefined || outcome._tag === "NotLeader" || outcome._tag === "Retry" ? ClientExit.unknown : ClientExit.answered
  } finally {
    await client.close()
  }
}
