// `faultline client`: key-value operations on a real cluster from the command line, found through its data directory or a peer list.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Exit, Fiber } from "effect"
import type { ProtocolEvent } from "../check/checker.ts"
import { type HistoryEvent, serializeHistoryEvent } from "../check/history.ts"
import { RaftChecker } from "../check/raft.ts"
import { raftClient } from "../protocols/raft/client.ts"
import type { ClientOutcome } from "../protocols/raft/client-messages.ts"
import type { KvOperation } from "../protocols/raft/types.ts"
import { type Address, parsePeers, runRealNode } from "../real/index.ts"
import { parseTraceEvents } from "../trace/index.ts"
import { readCluster, readSecret, serverAddresses } from "./cluster-file.ts"
import { parseDurationFlag, parseInteger, UsageError } from "./errors.ts"
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
  return { servers, secret: await readSecret(secretFile) }
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

/** Flags of `faultline client load`. */
export interface LoadFlags extends AccessFlags {
  readonly clients?: string
  readonly operations?: string
  readonly keys?: string
  readonly history?: string
}

/**
 * `faultline client load`: concurrent clients running the simulated workload's client program
 * (random reads, writes, cas, appends and deletes, with retries) against the real cluster, each a
 * session of its own. Their traces go beside the nodes' in the data directory, so trace-check
 * judges linearizability too, and `--history` writes what they saw for `faultline check`.
 */
export const clientLoadCommand = async (flags: LoadFlags): Promise<number> => {
  const clients = flags.clients === undefined ? 4 : parseInteger("--clients", flags.clients, { minimum: 1 })
  const operations = flags.operations === undefined ? 50 : parseInteger("--operations", flags.operations, { minimum: 1 })
  const keyCount = flags.keys === undefined ? 4 : parseInteger("--keys", flags.keys, { minimum: 1 })
  const dataRoot = flags.data ?? "data"
  const access = await clusterAccess(flags)
  const description = flags.peers === undefined ? readCluster(dataRoot) : undefined
  const servers = Object.keys(access.servers).sort()
  const traceDirectory = join(dataRoot, "clients")
  mkdirSync(traceDirectory, { recursive: true })
  const started = performance.now()
  const scratch: Array<string> = []
  const fibers = Array.from({ length: clients }, (_, index) => {
    // A fresh id per run: servers apply each client's sequence numbers once, across runs too.
    const self = freshClientId(`c${index + 1}`)
    const program = raftClient(index + 1, {
      servers,
      keys: Array.from({ length: keyCount }, (_, key) => `k${key + 1}`),
      operations,
      thinkMs: 5,
      requestTimeoutMs: 500,
      operationTimeoutMs: 5000,
      mix: { read: 3, write: 3, cas: 2, append: 1, delete: 0.5 }
    })
    return runRealNode(program, {
      self,
      peers: access.servers,
      secret: access.secret,
      dataDirectory: scratch[scratch.push(mkdtempSync(join(tmpdir(), "faultline-load-"))) - 1]!,
      tracePath: join(traceDirectory, `${self}.trace.jsonl`),
      clockOriginUnixMs: description?.clockOriginUnixMs,
      log: () => {}
    })
  })
  const exits = await Effect.runPromise(Effect.all(fibers.map(Fiber.await)))
  for (const directory of scratch) rmSync(directory, { recursive: true, force: true })
  const wallMs = performance.now() - started
  const failed = exits.filter((exit) => !Exit.isSuccess(exit)).length
  if (failed > 0) throw new Error(`client load: ${failed} of ${clients} clients stopped on an error`)
  const history = readHistory(traceDirectory)
  if (flags.history !== undefined) writeFileSync(flags.history, history.map(serializeHistoryEvent).join("\n") + "\n")
  const count = (type: string) => history.filter((event) => event.type === type).length
  process.stdout.write(
    `${clients} clients, ${count("invoke")} operations in ${(wallMs / 1000).toFixed(1)} s: ${count("ok")} ok, ${count("fail")} failed, ${count("info")} unknown` +
      `${flags.history === undefined ? "" : `; history in ${flags.history}`}\n`
  )
  return 0
}

/** The clients' history, from their trace files, in time order (Jepsen format, nanoseconds). */
const readHistory = (traceDirectory: string): Array<HistoryEvent> => {
  const events: Array<ProtocolEvent> = []
  for (const file of readdirSync(traceDirectory).filter((name) => name.endsWith(".trace.jsonl")).sort()) {
    const parsed = parseTraceEvents(readFileSync(join(traceDirectory, file), "utf8"), file)
    if (typeof parsed === "string") throw new UsageError(parsed)
    events.push(...parsed.filter((event) => event.name === "history"))
  }
  events.sort((left, right) => left.timeUs - right.timeUs)
  // The Raft checker turns history events into Jepsen's format; it is the one place that does.
  const checker = new RaftChecker({ livenessBoundMs: 1, linearizabilityBudgetMs: 1 })
  for (const event of events) checker.onEvent(event)
  return checker.history
}
