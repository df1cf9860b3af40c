// `faultline client`: key-value operations on a real cluster from the command line, found through its data directory or a peer list.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Exit, Fiber } from "effect"
import type { ProtocolEvent } from "../check/checker.ts"
import { type HistoryEvent, serializeHistoryEvent } from "../check/history.ts"
import { RaftChecker } from "../check/raft.ts"
import type { RealClient } from "../definition/real-client.ts"
import { raftClient } from "../protocols/raft/client.ts"
import { type Address, parsePeers, runRealNode } from "../real/index.ts"
import { parseTraceEvents } from "../trace/index.ts"
import { readCluster, readSecret, serverAddresses } from "./cluster-file.ts"
import { parseDurationFlag, parseInteger, UsageError } from "./errors.ts"
import type { ClusterAccess } from "./kv-client.ts"
import { freshClientId, openKvClient } from "./kv-client.ts"
import { loadProtocols } from "./protocols.ts"

/** Flags shared by the commands that reach a running cluster. */
export interface AccessFlags {
  readonly data?: string
  /** The cluster's protocol, for `--peers` (with `--data`, the cluster's description names it). */
  readonly protocol?: string
  readonly protocols?: string
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
  let protocol = flags.protocol ?? "raft"
  let protocolsModule = flags.protocols
  if (flags.peers !== undefined) {
    const parsed = parsePeers(flags.peers.split(",").filter((entry) => entry.trim() !== ""))
    if (typeof parsed === "string") throw new UsageError(`--peers: ${parsed}`)
    servers = parsed
    secretFile = flags.secretFile ?? join(flags.data ?? "data", "cluster.secret")
  } else {
    const description = readCluster(flags.data ?? "data")
    servers = serverAddresses(description)
    secretFile = flags.secretFile ?? description.secretFile
    protocol = description.protocol
    protocolsModule ??= description.protocolsModule
  }
  return { client: await realClientOf(protocol, protocolsModule), servers, secret: await readSecret(secretFile) }
}

/** The protocol's client of real clusters; a one-line UsageError when it is unknown or has none. */
const realClientOf = async (protocol: string, protocolsModule: string | undefined): Promise<RealClient<any>> => {
  const definition = (await loadProtocols(protocolsModule)).get(protocol)
  if (definition === undefined) throw new UsageError(`--protocol: unknown protocol "${protocol}"`)
  if (definition.realClient === undefined) throw new UsageError(`client: the ${protocol} protocol has no client for real clusters`)
  return definition.realClient
}

/** The operation the arguments name, as the protocol's client reads them (such as `put k v`); a UsageError when they name none. */
export const operationFromArguments = (client: RealClient<any>, name: string, args: ReadonlyArray<string>): unknown => {
  const parsed = client.fromArguments(name, args)
  if (parsed._tag === "Operation") return parsed.operation
  throw new UsageError(parsed.message)
}

/** Runs the command: one operation, its answer on stdout. */
export const clientCommand = async (name: string, args: ReadonlyArray<string>, flags: ClientFlags): Promise<number> => {
  const timeoutMs = flags.timeout === undefined ? 10_000 : parseDurationFlag("--timeout", flags.timeout, { minimumMs: 1 })
  const access = await clusterAccess(flags)
  const operation = operationFromArguments(access.client, name, args)
  const client = await openKvClient({ ...access, clientId: freshClientId("cli"), operationTimeoutMs: timeoutMs })
  try {
    const answer = await client.perform(operation)
    process.stdout.write((flags.json === true ? JSON.stringify(answer.body) : answer.text) + "\n")
    return answer.known ? ClientExit.answered : ClientExit.unknown
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
