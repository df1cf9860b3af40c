// A key-value client of the quorum store: reads from any node, writes through an owner naming the
// context of its last read of the key, and reports a Jepsen-style history through the shared kv layer.
import { Effect } from "effect"
import { Clock, Network, type NodeProgram, Random, Tracing } from "../../env/index.ts"
import type { JsonValue } from "../../env/json.ts"
import type { VectorClock } from "../clocks/vector-clock.ts"
import { awaitReply, chooseKey, historyRecorder, type HistoryReport, type KvWorkloadOptions, pickWeighted, pinnedServer } from "../kv/index.ts"
import { type ClientOutcome, isReply } from "./messages.ts"

/** Options of a client, as a scenario's workload states them. */
export interface QuorumClientOptions extends KvWorkloadOptions {
  readonly mix: { readonly read: number; readonly write: number }
}

const FUNCTIONS = ["read", "write"] as const

/** What the client last read of a key: the context to name in its next write, and the values it saw. */
interface ReadState {
  readonly context: VectorClock
  readonly values: ReadonlyArray<JsonValue>
}

/** Options of a {@link makeQuorumSession}. */
export interface QuorumSessionOptions {
  readonly servers: ReadonlyArray<string>
  /** How long one attempt waits for a coordinator's answer. */
  readonly requestTimeoutMs: number
  /** How long an operation may take in all. */
  readonly operationTimeoutMs: number
  /**
   * Whether a write that got no answer is sent again (to another coordinator) until the operation
   * times out. The workload's clients do not: if the first coordinator did take it, a second attempt
   * would be a second write of the same value (a sibling of itself), which the checkers would count.
   * A person's client does: a node that is down must not make a write fail, and a duplicate sibling
   * of one value is harmless to them.
   */
  readonly retryUnansweredWrites: boolean
  /**
   * How long a write attempt waits (default: `requestTimeoutMs`). A coordinator answers a write once
   * W copies are durable, which after a failure takes its replica timeout and a stand-in's sync: a
   * client that retries unanswered writes should wait longer than that, or it writes twice.
   */
  readonly writeTimeoutMs?: number
  /**
   * How long a server that left an attempt unanswered is passed over when picking where to send the
   * next (default 0: never, as the workload's clients, whose draws then depend on nothing else).
   */
  readonly avoidUnansweredMs?: number
  /** The one node every read and every write's first attempt goes to (a `pinned` client); none: any node, at random. */
  readonly pinned?: string | undefined
}

/** A client's session with the store: reads and writes numbered by the caller (request ids carry the number). */
export interface QuorumSession {
  /** Reads `key` through any node: its sibling values and their context; undefined when no coordinator answered. */
  readonly read: (sequence: number, key: string) => Effect.Effect<Extract<ClientOutcome, { _tag: "Values" }> | undefined>
  /** Writes `value`, naming `context` (of a read) as the version it supersedes; undefined when it is not known to have been written. */
  readonly write: (sequence: number, key: string, value: JsonValue, context: VectorClock) => Effect.Effect<Extract<ClientOutcome, { _tag: "Written" }> | undefined>
}

/**
 * Opens a session. Reads go to a random node (any node coordinates one) and are retried elsewhere
 * until one answers; writes go to a random node and follow `NotOwner` to an owner. It runs on
 * either world: the simulated workload clients and real command-line clients use it alike.
 */
export const makeQuorumSession = (options: QuorumSessionOptions): Effect.Effect<QuorumSession, never, Network | Clock | Random> =>
  Effect.gen(function*() {
    const network = yield* Network
    const clock = yield* Clock
    const random = yield* Random
    /** Server to the time until which it is passed over, having left an attempt unanswered. */
    const unanswered = new Map<string, number>()
    const avoidUnansweredMs = options.avoidUnansweredMs ?? 0
    /** One of `servers`, at random, passing over those that recently left an attempt unanswered (unless all did). */
    const pickFrom = (servers: ReadonlyArray<string>) =>
      Effect.gen(function*() {
        const nowMs = yield* clock.now
        const answering = servers.filter((server) => (unanswered.get(server) ?? Number.NEGATIVE_INFINITY) <= nowMs)
        const candidates = answering.length === 0 ? servers : answering
        return candidates[yield* random.nextInt(candidates.length)]
      })
    const pinned = options.pinned
    const pickServer = pinned === undefined ? Effect.map(pickFrom(options.servers), (server) => server!) : Effect.succeed(pinned)

    const attempt = (to: string, requestId: string, message: unknown, timeoutMs = options.requestTimeoutMs) =>
      Effect.gen(function*() {
        yield* network.send(to, message)
        const outcome = yield* awaitReply<ClientOutcome>({
          network,
          clock,
          timeoutMs,
          accept: (reply) => (isReply(reply) && reply.requestId === requestId ? reply.outcome : undefined)
        })
        if (outcome === undefined && avoidUnansweredMs > 0) unanswered.set(to, (yield* clock.now) + avoidUnansweredMs)
        return outcome
      })

    const read = (sequence: number, key: string) =>
      Effect.gen(function*() {
        const started = yield* clock.now
        for (let tries = 1; (yield* clock.now) - started < options.operationTimeoutMs; tries++) {
          const requestId = `${network.self}:${sequence}:${tries}`
          const outcome = yield* attempt(yield* pickServer, requestId, { _tag: "Get", requestId, key })
          if (outcome?._tag === "Values") return outcome
        }
        return undefined
      })

    const write = (sequence: number, key: string, value: JsonValue, context: VectorClock) =>
      Effect.gen(function*() {
        let to = yield* pickServer
        const started = yield* clock.now
        for (let tries = 1; (yield* clock.now) - started < options.operationTimeoutMs; tries++) {
          const requestId = `${network.self}:${sequence}:${tries}`
          const outcome = yield* attempt(to, requestId, { _tag: "Put", requestId, key, value, context }, options.writeTimeoutMs)
          if (outcome === undefined && !options.retryUnansweredWrites) return undefined
          if (outcome?._tag === "Written") return outcome
          if (outcome?._tag === "NotOwner") to = (yield* pickFrom(outcome.owners)) ?? to
          else to = yield* pickServer
        }
        return undefined
      })

    return { read, write }
  })

/**
 * Client `process` of the workload. A read is `ok` with the list of sibling values (empty when the
 * key is absent), `fail` when no node answered. A write names the context of the client's last
 * read of the key (its history entry lists the values of that read as `supersedes`), and is `ok`
 * once the coordinator says W replicas have it; a write that got no answer is `info`, and is not
 * retried, since a second attempt would be a second write of the same value.
 *
 * Any node coordinates a read and an owner a write, so there is no leader to follow: `follow-leader`
 * and `random` both send each attempt to any node. A `pinned` client sends every read and the first
 * attempt of every write to its own node, and follows a NotOwner answer to an owner, which is the
 * forwarding a Dynamo node would do for it.
 */
export const quorumClient = (process: number, options: QuorumClientOptions): NodeProgram =>
  Effect.gen(function*() {
    const clock = yield* Clock
    const random = yield* Random
    const recordHistory = historyRecorder(yield* Tracing)
    const lastRead = new Map<string, ReadState>()
    const session = yield* makeQuorumSession({
      ...options,
      retryUnansweredWrites: false,
      pinned: options.placement === "pinned" ? pinnedServer(options.servers, process) : undefined
    })

    for (let sequence = 1; sequence <= options.operations; sequence++) {
      yield* clock.sleep(options.thinkMs * (0.5 + (yield* random.next)))
      const f = pickWeighted(FUNCTIONS, options.mix, yield* random.next)
      const key = yield* chooseKey(random, { pool: options.keys, hot: options.keys.slice(0, 1), hotKeyShare: options.hotKeyShare ?? 0 })
      if (f === "read") {
        yield* recordHistory({ process, type: "invoke", f, key, value: null })
        const outcome = yield* session.read(sequence, key)
        if (outcome !== undefined) lastRead.set(key, { context: outcome.context, values: outcome.values })
        const report: HistoryReport = outcome === undefined
          ? { process, type: "fail", f, key, value: null }
          : { process, type: "ok", f, key, value: [...outcome.values] }
        yield* recordHistory(report)
      } else {
        const value = process * 1_000_000 + sequence
        const seen = lastRead.get(key)
        lastRead.delete(key)
        yield* recordHistory({ process, type: "invoke", f, key, value, supersedes: seen?.values ?? [] })
        const outcome = yield* session.write(sequence, key, value, seen?.context ?? {})
        yield* recordHistory({ process, type: outcome === undefined ? "info" : "ok", f, key, value })
      }
    }
  })
