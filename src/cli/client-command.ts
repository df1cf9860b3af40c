// `faultline client`: key-value operations on a real cluster from the command line, found through its data directory or a peer list.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Exit, Fiber } from "effect"
import { unknownProtocol } from "../definition/input.ts"
import type { ProtocolEvent } from "../check/checker.ts"
import { type HistoryEvent, serializeHistoryEvent } from "../check/history.ts"
import type { LoadSize, ProtocolBuild, ProtocolDefinition } from "../definition/protocol.ts"
import type { RealClient } from "../definition/real-client.ts"
import { HISTORY_EVENT } from "../protocols/kv/workload.ts"
import { type Address, parsePeers, runRealNode } from "../real/index.ts"
import { parseTraceEvents } from "../trace/index.ts"
import { type ClusterDescription, LOAD_WORKLOAD_FILE, readCluster, readSecret, serverAddresses } from "./cluster-file.ts"
import { buildForCluster, parseOptionFlags } from "./cluster-options.ts"
import { parseDurationFlag, parseInteger, UsageError } from "./errors.ts"
import { describeFailure } from "./failure.ts"
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

/** Exit codes of `faultline load`: 0 the clients finished (outcomes are in the history), 2 bad input, 4 a client stopped on an error. */
export const LoadExit = { finished: 0, badInput: 2, failed: 4 } as const

/** A running cluster as the client commands find it: its protocol, servers and secret, and its description when --data gave one. */
interface ClusterTarget {
  readonly definition: ProtocolDefinition
  readonly servers: Readonly<Record<string, Address>>
  readonly secret: Uint8Array
  readonly description: ClusterDescription | undefined
}

/** Where the cluster is: `--peers` (with `--secret-file` and `--protocol`), or the description in `--data` (default ./data). */
const clusterTarget = async (flags: AccessFlags): Promise<ClusterTarget> => {
  let servers: Record<string, Address>
  let secretFile: string
  let description: ClusterDescription | undefined
  if (flags.peers !== undefined) {
    const parsed = parsePeers(flags.peers.split(",").filter((entry) => entry.trim() !== ""))
    if (typeof parsed === "string") throw new UsageError(`--peers: ${parsed}`)
    servers = parsed
    secretFile = flags.secretFile ?? join(flags.data ?? "data", "cluster.secret")
  } else {
    description = readCluster(flags.data ?? "data")
    servers = serverAddresses(description)
    secretFile = flags.secretFile ?? description.secretFile
  }
  const protocol = description?.protocol ?? flags.protocol ?? "raft"
  const protocols = await loadProtocols(flags.protocols ?? description?.protocolsModule)
  const definition = protocols.get(protocol)
  if (definition === undefined) throw new UsageError(`--protocol: ${unknownProtocol(protocol, protocols.keys())}`)
  return { definition, servers, secret: await readSecret(secretFile), description }
}

/** Where the cluster is, and its protocol's client; a one-line UsageError when the protocol has none. */
export const clusterAccess = async (flags: AccessFlags): Promise<ClusterAccess> => {
  const { definition, servers, secret, description } = await clusterTarget(flags)
  // A client that depends on the cluster's options (the search's shard map and data set) comes from a build with them.
  const built = buildForCluster({ definition, nodes: Object.keys(servers).length, options: description?.options, file: description === undefined ? "--peers" : "cluster.json" })
  const client = built.realClient ?? definition.realClient
  if (client === undefined) throw new UsageError(`client: the ${definition.name} protocol has no client for real clusters`)
  return { client, servers, secret }
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
  /** `--workload NAME=VALUE`: a field of the protocol's workload, over what the sizes above make of it. */
  readonly workload?: ReadonlyArray<string>
}

/** The workload `load` runs: the protocol's, from the sizes, with real-network timeouts, and the `--workload` fields over it. */
const loadWorkload = (definition: ProtocolDefinition, size: LoadSize, fields: ReadonlyArray<string> | undefined): Record<string, unknown> => ({
  ...(definition.clusterWorkload?.(size) ??
    { clients: size.clients, operationsPerClient: size.operations, keys: size.keys, thinkMs: 5, requestTimeoutMs: 500, operationTimeoutMs: 5000 }),
  ...parseOptionFlags(fields, "--workload")
})

/**
 * `faultline load`: concurrent clients running the protocol's simulated workload clients (for
 * Raft random reads, writes, cas, appends and deletes; for the quorum store reads and
 * read-modify-writes) against the real cluster, each a session of its own. Their traces go beside
 * the nodes' in the data directory, so trace-check judges what they saw too, and `--history`
 * writes it for `faultline check`.
 */
export const clientLoadCommand = async (flags: LoadFlags): Promise<number> => {
  const clients = flags.clients === undefined ? 4 : parseInteger("--clients", flags.clients, { minimum: 1 })
  const operations = flags.operations === undefined ? 50 : parseInteger("--operations", flags.operations, { minimum: 1 })
  const keyCount = flags.keys === undefined ? 4 : parseInteger("--keys", flags.keys, { minimum: 1 })
  const dataRoot = flags.data ?? "data"
  const target = await clusterTarget(flags)
  const servers = Object.keys(target.servers).sort()
  // The protocol's own workload clients, as a simulated run of it builds them, with real-network timeouts.
  const workload = loadWorkload(target.definition, { clients, operations, keys: keyCount }, flags.workload)
  const built = buildForCluster({ definition: target.definition, nodes: servers.length, options: target.description?.options, workload, file: "load" })
  if (flags.history !== undefined && built.history === undefined) throw new UsageError(`--history: the ${target.definition.name} protocol's clients record no history; trace-check judges their traces`)
  const traceDirectory = join(dataRoot, "clients")
  mkdirSync(traceDirectory, { recursive: true })
  writeFileSync(join(traceDirectory, LOAD_WORKLOAD_FILE), JSON.stringify(workload, null, 2) + "\n")
  const started = performance.now()
  const scratch: Array<string> = []
  const fibers = built.clients.map((client) => {
    // A fresh id per run: servers apply each client's sequence numbers once, across runs too.
    const self = freshClientId(client.id)
    return runRealNode(client.program, {
      self,
      peers: target.servers,
      secret: target.secret,
      dataDirectory: scratch[scratch.push(mkdtempSync(join(tmpdir(), "faultline-load-"))) - 1]!,
      tracePath: join(traceDirectory, `${self}.trace.jsonl`),
      clockOriginUnixMs: target.description?.clockOriginUnixMs,
      log: () => {}
    })
  })
  const exits = await Effect.runPromise(Effect.all(fibers.map(Fiber.await)))
  for (const directory of scratch) rmSync(directory, { recursive: true, force: true })
  const wallMs = performance.now() - started
  const failures = exits.filter((exit) => Exit.isFailure(exit))
  const first = failures[0]
  if (first !== undefined) {
    process.stderr.write(`faultline: load: ${failures.length} of ${clients} clients stopped on an error: ${describeFailure(first.cause)}\n`)
    return LoadExit.failed
  }
  if (built.history === undefined) {
    process.stdout.write(`${clients} clients in ${(wallMs / 1000).toFixed(1)} s: ${describeClientEvents(traceDirectory)}; faultline trace-check judges them\n`)
    return LoadExit.finished
  }
  const history = readHistory(traceDirectory, built)
  if (flags.history !== undefined) writeFileSync(flags.history, history.map(serializeHistoryEvent).join("\n") + "\n")
  const count = (type: string) => history.filter((event) => event.type === type).length
  process.stdout.write(
    `${clients} clients, ${count("invoke")} operations in ${(wallMs / 1000).toFixed(1)} s: ${count("ok")} ok, ${count("fail")} failed, ${count("info")} unknown` +
      `${flags.history === undefined ? "" : `; history in ${flags.history}`}\n`
  )
  return 0
}

/** The clients' trace events of the run, by name (`invoke 3000, ok 3000, ...`), for a protocol that keeps no history. */
const describeClientEvents = (traceDirectory: string): string => {
  const counts = new Map<string, number>()
  for (const event of readClientEvents(traceDirectory)) counts.set(event.name, (counts.get(event.name) ?? 0) + 1)
  return [...counts].map(([name, count]) => `${name} ${count}`).join(", ")
}

/** Every event of the clients' trace files, in time order. */
const readClientEvents = (traceDirectory: string): Array<ProtocolEvent> => {
  const events: Array<ProtocolEvent> = []
  for (const file of readdirSync(traceDirectory).filter((name) => name.endsWith(".trace.jsonl")).sort()) {
    const parsed = parseTraceEvents(readFileSync(join(traceDirectory, file), "utf8"), file)
    if (typeof parsed === "string") throw new UsageError(parsed)
    for (const event of parsed) events.push(event)
  }
  return events.sort((left, right) => left.timeUs - right.timeUs)
}

/** The clients' history, from their trace files, in time order (Jepsen format, nanoseconds), as the protocol's checkers record it. */
const readHistory = (traceDirectory: string, built: ProtocolBuild): ReadonlyArray<HistoryEvent> => {
  const events = readClientEvents(traceDirectory).filter((event) => event.name === HISTORY_EVENT)
  for (const event of events) for (const checker of built.checkers) checker.onEvent(event)
  return built.history?.() ?? []
}
