// `faultline node`: one server of a protocol as a real process, on TCP and disk, until SIGINT or SIGTERM.
import { accessSync, constants, statSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { Cause, Effect, Exit, Fiber, Layer } from "effect"
import { serverIds, unknownProtocol } from "../definition/input.ts"
import type { ProtocolDefinition } from "../definition/protocol.ts"
import type { RealClient } from "../definition/real-client.ts"
import {
  type Address,
  defaultTracePath,
  formatAddress,
  LocalHub,
  parseAddress,
  parsePeers,
  realNodeLayer,
  type RealNodeConfig,
  startOtelExport
} from "../real/index.ts"
import { readSecret } from "./cluster-file.ts"
import { buildForCluster, parseOptionFlags } from "./cluster-options.ts"
import { UsageError } from "./errors.ts"
import { describeFailure } from "./failure.ts"
import type { ClusterAccess } from "./kv-client.ts"
import { startKvHttp } from "./kv-http.ts"
import { loadProtocols } from "./protocols.ts"

/** Flags of `faultline node`. */
export interface NodeFlags {
  readonly protocol?: string
  readonly id?: string
  readonly listen?: string
  readonly peers?: string
  readonly data?: string
  readonly secretFile?: string
  readonly http?: string
  readonly clockOrigin?: string
  readonly protocols?: string
  readonly option?: ReadonlyArray<string>
}

/** Exit codes of `faultline node`: 0 stopped by a signal, 2 could not start (bad input), 4 stopped on an error while running. */
export const NodeExit = { stopped: 0, badInput: 2, failed: 4 } as const

/** Everything a node process needs, checked from its flags; a one-line UsageError for anything wrong. */
export interface NodePlan {
  readonly definition: ProtocolDefinition
  readonly id: string
  readonly listen: Address
  readonly peers: Readonly<Record<string, Address>>
  readonly dataDirectory: string
  readonly secretFile: string
  readonly http: Address | undefined
  readonly clockOriginUnixMs: number | undefined
  /** The protocol's options from `--option` flags, over its cluster options. */
  readonly options: Readonly<Record<string, unknown>>
}

const address = (flag: string, text: string): Address => {
  const parsed = parseAddress(text)
  if (typeof parsed === "string") throw new UsageError(`${flag}: ${parsed}`)
  return parsed
}

/** Checks the flags and the data directory; touches nothing. */
export const planNode = async (flags: NodeFlags): Promise<NodePlan> => {
  if (flags.protocol === undefined) throw new UsageError("--protocol: required (such as raft)")
  if (flags.id === undefined) throw new UsageError("--id: required (such as n1)")
  if (flags.data === undefined) throw new UsageError("--data: required (the node's data directory)")
  const protocols = await loadProtocols(flags.protocols)
  const definition = protocols.get(flags.protocol)
  if (definition === undefined) throw new UsageError(`--protocol: ${unknownProtocol(flags.protocol, protocols.keys())}`)
  const listen = address("--listen", flags.listen ?? "127.0.0.1:7001")
  const others = parsePeers((flags.peers ?? "").split(",").filter((entry) => entry.trim() !== ""))
  if (typeof others === "string") throw new UsageError(`--peers: ${others}`)
  const peers = { ...others, [flags.id]: listen }
  const expected = serverIds(Object.keys(peers).length)
  if (Object.keys(peers).sort().join(",") !== [...expected].sort().join(",")) {
    throw new UsageError(`--id and --peers: a cluster of ${expected.length} names its nodes ${expected.join(", ")}; got ${Object.keys(peers).sort().join(", ")}`)
  }
  checkDataDirectory(flags.data)
  const secretFile = flags.secretFile ?? join(dirname(flags.data), "cluster.secret")
  let clockOriginUnixMs: number | undefined
  if (flags.clockOrigin !== undefined) {
    clockOriginUnixMs = Number(flags.clockOrigin)
    if (!Number.isSafeInteger(clockOriginUnixMs)) throw new UsageError(`--clock-origin: expected milliseconds since 1970, got "${flags.clockOrigin}"`)
  }
  return {
    definition,
    id: flags.id,
    listen,
    peers,
    dataDirectory: flags.data,
    secretFile,
    http: flags.http === undefined ? undefined : address("--http", flags.http),
    clockOriginUnixMs,
    options: parseOptionFlags(flags.option)
  }
}

/** The data directory must exist, be a directory and be writable: a node never guesses where its state lives. */
const checkDataDirectory = (directory: string): void => {
  let isDirectory: boolean
  try {
    isDirectory = statSync(directory).isDirectory()
  } catch {
    throw new UsageError(`--data: ${directory} does not exist (create it, or start a cluster with faultline cluster up)`)
  }
  if (!isDirectory) throw new UsageError(`--data: ${directory} is not a directory`)
  try {
    accessSync(directory, constants.W_OK)
  } catch {
    throw new UsageError(`--data: ${directory} is not writable`)
  }
}

/** Whether the program stopped because its stored state is damaged: it refused to start on it. */
const isCorruption = (cause: Cause.Cause<unknown>): boolean => (Cause.squash(cause) as { _tag?: unknown })._tag === "StorageCorruption"

/** Runs the command: starts the node, serves until SIGINT or SIGTERM, then stops it cleanly. */
export const nodeCommand = async (flags: NodeFlags): Promise<number> => {
  const plan = await planNode(flags)
  const secret = await readSecret(plan.secretFile)
  const built = buildForCluster({ definition: plan.definition, nodes: Object.keys(plan.peers).length, options: plan.options, file: "faultline node" })
  const program = built.server(plan.id)
  // The HTTP endpoint's client sessions reach this node through the hub, not over loopback TCP.
  const localHub = new LocalHub()
  // Spans are exported only when OTEL_* asks for it; otherwise no SDK is loaded and nothing is contacted.
  const otel = await startOtelExport({ node: plan.id, cluster: resolve(dirname(plan.dataDirectory)), protocol: plan.definition.name })
  const config: RealNodeConfig = {
    otel,
    network: { localHub },
    self: plan.id,
    listen: plan.listen,
    peers: plan.peers,
    secret,
    dataDirectory: plan.dataDirectory,
    clockOriginUnixMs: plan.clockOriginUnixMs,
    log: (line) => process.stderr.write(`${line}\n`)
  }
  let started = false
  const main = Effect.scoped(
    Effect.gen(function*() {
      // Build the services first, so that a port in use or a damaged data directory is a start-up failure.
      const context = yield* Layer.build(realNodeLayer(config))
      started = true
      process.stdout.write(
        `${plan.id} (${plan.definition.name}, ${Object.keys(plan.peers).length} nodes) listening on ${formatAddress(plan.listen)}` +
          `${plan.http === undefined ? "" : `, http ${formatAddress(plan.http)}`}, data ${plan.dataDirectory}, trace ${defaultTracePath(plan.dataDirectory)}\n`
      )
      return yield* Effect.provide(program, context)
    })
  )
  const fiber = Effect.runFork(main)
  const http = plan.http === undefined ? undefined : await startHttp(plan, { servers: plan.peers, secret, localHub, otel }, built.realClient ?? plan.definition.realClient, fiber)
  const stop = () => void Effect.runPromise(Fiber.interrupt(fiber))
  process.once("SIGINT", stop)
  process.once("SIGTERM", stop)
  const exit = await Effect.runPromise(Fiber.await(fiber))
  await http?.close()
  // What the batch processor still holds goes out before the process ends (SIGTERM included).
  await otel?.shutdown().catch((error: unknown) => process.stderr.write(`${plan.id}: span export: ${(error as Error).message}\n`))
  process.off("SIGINT", stop)
  process.off("SIGTERM", stop)
  if (Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause)) {
    process.stderr.write(`${plan.id}: stopped\n`)
    return NodeExit.stopped
  }
  // A damaged data directory is found while the node recovers, just after its services start: it
  // is still a refusal to start on bad input, and nothing stored was changed.
  const refused = !started || isCorruption(exit.cause)
  process.stderr.write(`faultline: ${plan.id}: ${refused ? "cannot start" : "stopped on an error"}: ${describeFailure(exit.cause)}\n`)
  return refused ? NodeExit.badInput : NodeExit.failed
}

/** Starts the node's HTTP endpoint; a port in use stops the node and is a start-up failure. */
const startHttp = async (plan: NodePlan, access: Omit<ClusterAccess, "client">, client: RealClient<any> | undefined, fiber: Fiber.Fiber<unknown, unknown>) => {
  try {
    return await startKvHttp({ listen: plan.http!, access, client, self: plan.id, protocol: plan.definition.name })
  } catch (error) {
    await Effect.runPromise(Fiber.interrupt(fiber))
    throw new UsageError(`--http: cannot listen on ${formatAddress(plan.http!)} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`)
  }
}
