// The real runtime's one public entry: every env service served by sockets, files, the monotonic clock and the OS's randomness.
//
// A host (a node command, a test) builds a RealNodeConfig, then runs a NodeProgram with
// `runRealNode`, or provides `realNodeLayer` itself. Interrupting the program's fiber closes the
// node's sockets and flushes its trace file. Nothing here imports the simulator.
import { Context, Effect, type Fiber, Layer } from "effect"
import type { ProtocolEvent } from "../check/checker.ts"
import { Clock, type Env, Network, type NodeId, type NodeProgram, Random, Storage, type StorageError, Tracing } from "../env/index.ts"
import type { Address } from "./address.ts"
import { makeRealClock } from "./clock.ts"
import {
  formatNetworkLogEntry,
  makeRealNetwork,
  type NetworkError,
  type NetworkLogEntry,
  type NetworkStats,
  type RealNetworkConfig
} from "./network.ts"
import { makeRealRandom } from "./random.ts"
import { makeRealStorage } from "./storage.ts"
import type { OtelExport } from "./otel.ts"
import { makeRealTracing, openTraceFile, type TraceFileError } from "./tracing.ts"

export { type Address, formatAddress, LOOPBACK_HOST, parseAddress, parsePeers } from "./address.ts"
export { makeRealClock, type RealClock } from "./clock.ts"
export {
  DEFAULT_MAX_PAYLOAD_BYTES,
  type DecodeError,
  type DecodeResult,
  decodeMessagePayload,
  describeDecodeError,
  encodeFrame,
  encodeMessageFrame,
  FrameDecoder,
  FrameKind,
  WIRE_VERSION
} from "./frame.ts"
export { isValidNodeId, SECRET_BYTES_MIN } from "./handshake.ts"
export {
  type Direction,
  formatNetworkLogEntry,
  makeRealNetwork,
  NetworkError,
  type NetworkLogEntry,
  type NetworkStats,
  type RealNetwork,
  type RealNetworkConfig
} from "./network.ts"
export { LocalHub } from "./local-hub.ts"
export { Mailbox } from "./mailbox.ts"
export { makeRealRandom } from "./random.ts"
export { generateSecret, readSecretFile, SecretError } from "./secret.ts"
export { isValidFileName, makeRealStorage, type RealStorageConfig } from "./storage.ts"
export { type ExportedNodeSpans, type OtelExport, type OtelResource, otelTracesConfigured, startOtelExport } from "./otel.ts"
export { makeRealTracing, openTraceFile, TraceFileError } from "./tracing.ts"

/** Network tuning a node may override; see {@link RealNetworkConfig} for each field and its default. */
export type RealNetworkTuning = Omit<RealNetworkConfig, "self" | "listen" | "peers" | "secret" | "log">

/** Everything a real node needs to run. */
export interface RealNodeConfig {
  /** The node's id (`n1`), or a client's (`c1`). */
  readonly self: NodeId
  /** Where it accepts connections (servers; host default 127.0.0.1); a client leaves it out. */
  readonly listen?: RealNetworkConfig["listen"]
  /** The servers of the cluster, by id (this node may be among them). */
  readonly peers: Readonly<Record<NodeId, Address>>
  /** The cluster secret (see `readSecretFile`). */
  readonly secret: Uint8Array
  /** Where Storage keeps the node's files. */
  readonly dataDirectory: string
  /** Create the data directory if it does not exist (default: it must exist). */
  readonly createDataDirectory?: boolean | undefined
  /** The trace file: default `<dataDirectory>.trace.jsonl`, beside the directory; `null` for none. */
  readonly tracePath?: string | null | undefined
  /** Where the clock counts from, as a wall-clock instant; default, the node's start (see makeRealClock). */
  readonly clockOriginUnixMs?: number | undefined
  readonly network?: RealNetworkTuning | undefined
  /** Where the node's log lines go (connections made, refused, lost); default stderr. */
  readonly log?: ((line: string) => void) | undefined
  /** Called with each protocol event as it is traced. */
  readonly onEvent?: ((event: ProtocolEvent) => void) | undefined
  /** The process's OpenTelemetry export (see `startOtelExport`); none exports nothing. */
  readonly otel?: OtelExport | undefined
}

/** A failure to start a node: its address, its data directory or its trace file. */
export type RealNodeError = NetworkError | StorageError | TraceFileError

/**
 * What a host may want to know about a running node beyond the env: where it listens and its
 * network's counters. Provided by {@link realNodeLayer} next to the env services; protocols never use it.
 */
export class RealNode extends Context.Service<RealNode, {
  readonly self: NodeId
  readonly address: Address | undefined
  readonly stats: Readonly<NetworkStats>
  readonly tracePath: string | undefined
}>()("faultline/RealNode") {}

/** The default trace file of a node whose data lives in `dataDirectory`. */
export const defaultTracePath = (dataDirectory: string): string => `${dataDirectory.replace(/\/+$/, "")}.trace.jsonl`

/**
 * Every env service of one real node, and {@link RealNode}. Building the layer opens the trace
 * file, the data directory and the listening socket, and fails with a {@link RealNodeError} that
 * names what is wrong; closing it (when the program's fiber ends or is interrupted) closes the
 * sockets first and flushes the trace last.
 */
export const realNodeLayer = (config: RealNodeConfig): Layer.Layer<Env | RealNode, RealNodeError> =>
  Layer.effectContext(Effect.gen(function*() {
    const clock = makeRealClock({ originUnixMs: config.clockOriginUnixMs })
    const tracePath = config.tracePath === null ? undefined : config.tracePath ?? defaultTracePath(config.dataDirectory)
    const trace = tracePath === undefined ? undefined : yield* Effect.acquireRelease(openTraceFile(tracePath), (file) => file.close())
    trace?.write({ t: clock.nowUs(), e: "start", node: config.self, pid: process.pid, unixMs: Date.now() })
    const storage = yield* makeRealStorage({ directory: config.dataDirectory, createDirectory: config.createDataDirectory })
    const log = config.log ?? ((line: string) => process.stderr.write(line + "\n"))
    const onNetworkLog = (entry: NetworkLogEntry) => {
      log(formatNetworkLogEntry(config.self, entry))
      trace?.write({
        t: clock.nowUs(),
        e: "connection",
        node: config.self,
        kind: entry._tag,
        peer: entry.peer ?? null,
        address: entry.address,
        direction: entry.direction,
        reason: entry._tag === "Connected" ? null : entry.reason
      })
    }
    const network = yield* makeRealNetwork({
      ...config.network,
      self: config.self,
      listen: config.listen,
      peers: config.peers,
      secret: config.secret,
      log: onNetworkLog
    })
    const tracing = makeRealTracing({ self: config.self, nowUs: clock.nowUs, trace, onEvent: config.onEvent, spans: config.otel?.forNode() })
    return Context.make(Network, network.service).pipe(
      Context.add(Clock, clock.service),
      Context.add(Random, makeRealRandom()),
      Context.add(Storage, storage),
      Context.add(Tracing, tracing),
      Context.add(RealNode, RealNode.of({ self: config.self, address: network.address, stats: network.stats, tracePath }))
    )
  }))

/**
 * Runs `program` as a real node on Effect's default runtime. Interrupt the returned fiber to stop
 * the node: its sockets close and its trace is flushed before the fiber ends. A node that fails to
 * start ends the fiber with the {@link RealNodeError}.
 *
 * ```ts
 * const secret = await Effect.runPromise(readSecretFile("cluster.secret"))
 * const peers = parsePeers(["n1=127.0.0.1:7001", "n2=127.0.0.1:7002", "n3=127.0.0.1:7003"])
 * if (typeof peers === "string") throw new Error(peers)
 * const fiber = runRealNode(causalBroadcastNode(defaultCausalBroadcastOptions), {
 *   self: "n1", listen: { port: 7001 }, peers, secret, dataDirectory: "data/n1", createDataDirectory: true
 * })
 * process.on("SIGTERM", () => Effect.runFork(Fiber.interrupt(fiber)))
 * ```
 */
export const runRealNode = (program: NodeProgram, config: RealNodeConfig): Fiber.Fiber<void, unknown> =>
  Effect.runFork(Effect.provide(program, realNodeLayer(config)))
