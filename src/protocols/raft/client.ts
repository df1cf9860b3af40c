// A key-value client of the Raft cluster: issues operations with timeouts and retries and records a Jepsen-style history.
import { Effect } from "effect"
import { Clock, Network, type NodeProgram, Random, Tracing } from "../../env/index.ts"
import {
  chooseKey,
  type HistoryReport,
  type KvFunction,
  type KvWorkloadOptions,
  pickWeighted,
  pinnedServer,
  type Placement,
  historyRecorder
} from "../kv/index.ts"
import { awaitReply, type ClientOutcome, isClientReply } from "./client-messages.ts"
import type { JsonValue, KvOperation } from "./types.ts"

/** Relative weights of read, write, cas, append, delete. */
export interface RaftMix {
  readonly read: number
  readonly write: number
  readonly cas: number
  readonly append: number
  readonly delete: number
}

/** Options of a client, as a scenario's workload states them. */
export interface RaftClientOptions extends KvWorkloadOptions {
  readonly mix: RaftMix
}

export type { HistoryReport }

type Function = KvFunction

const FUNCTIONS: ReadonlyArray<KvFunction> = ["read", "write", "cas", "append", "delete"]

/** Options of a {@link makeKvSession}. */
export interface KvSessionOptions {
  /** The servers the session may talk to. */
  readonly servers: ReadonlyArray<string>
  /** How long one attempt waits for a reply before trying another server. */
  readonly requestTimeoutMs: number
  /** How long an operation may take in all before its outcome is unknown. */
  readonly operationTimeoutMs: number
  /** Where requests go (follow-leader when left out); `pinned` needs `home`. */
  readonly placement?: Placement | undefined
  /** The one server a pinned session talks to. */
  readonly home?: string | undefined
}

/** A client's session with the cluster: operations numbered by the caller, each retried until it has an outcome. */
export interface KvSession {
  /**
   * Performs `operation` as the session's `sequence`-th, retrying on timeouts and redirects as
   * its placement says; undefined when no final outcome came within the operation timeout (a write
   * may then have happened or not). Retries keep `sequence`, so a write applies once.
   */
  readonly perform: (sequence: number, operation: KvOperation) => Effect.Effect<ClientOutcome | undefined>
  /** The server the session believes leads now (a pinned session: its own server). */
  readonly leaderGuess: () => string
}

/**
 * Opens a session: the node's own id is the client id, so it must be unique to the session (the
 * servers remember each client's last sequence number to apply retried writes exactly once). It
 * runs on either world: the simulated workload clients and real command-line clients use it alike.
 *
 * A session that follows the leader sends each attempt to the server it believes leads, follows
 * redirects and tries another server on a timeout. A pinned session sends every attempt to its own
 * server and a random one each to any server; both ask the server to forward what it cannot serve
 * to the leader it knows, as an etcd member does, so a client never moves on by itself and keeps
 * asking a server that wrongly believes it still leads.
 */
export const makeKvSession = (options: KvSessionOptions): Effect.Effect<KvSession, never, Network | Clock | Random | Tracing> =>
  Effect.map(openSession(options), (session) => ({
    perform: (sequence, operation) => Effect.gen(() => session.performing(sequence, operation)),
    leaderGuess: session.leaderGuess
  }))

/**
 * A session whose operations are generators rather than Effects, so that the workload client runs
 * each one inside its own generator (`yield*`) instead of as an Effect of its own: that spares
 * three Effect steps per operation, 11% of the simulated clients' steps on the standard Raft
 * scenario (46,833 to 41,662 over seeds 1-5). {@link makeKvSession} wraps it for everyone else.
 */
const openSession = (options: KvSessionOptions) =>
  Effect.gen(function*() {
    const network = yield* Network
    const clock = yield* Clock
    const random = yield* Random
    const spans = (yield* Tracing).spans
    const placement = options.placement ?? "follow-leader"
    if (placement === "pinned" && (options.home === undefined || !options.servers.includes(options.home))) {
      throw new Error(`makeKvSession: a pinned session needs one of the servers as its home, not ${String(options.home)}`)
    }
    let leaderGuess = options.servers[yield* random.nextInt(options.servers.length)]!
    const otherServer = Effect.map(random.nextInt(options.servers.length), (index) => options.servers[index]!)
    const forward = placement === "follow-leader" ? {} : { forward: true }

    /**
     * Sends one attempt and waits for its reply; none on timeout. A final answer to an earlier
     * attempt of the same operation is as good as one to this attempt (the write applied once, and
     * a read was served after the operation began), so it ends the wait too: on a network slower
     * than the request timeout, every answer is to an earlier attempt. Redirects and retries of
     * earlier attempts are skipped, and so is anything for another operation.
     */
    const attempt = (to: string, requestId: string, sequence: number, operation: KvOperation, traceparent: string | undefined, nowMs: number) => {
      const operationPrefix = `${network.self}:${sequence}:`
      return Effect.andThen(
        network.send(to, { _tag: "ClientRequest", requestId, clientId: network.self, sequence, operation, ...forward }, traceparent),
        awaitReply({
          network,
          clock,
          timeoutMs: options.requestTimeoutMs,
          startedMs: nowMs,
          accept: (message) => {
            if (!isClientReply(message)) return undefined
            if (message.requestId === requestId) return message.outcome
            const final = message.outcome._tag !== "NotLeader" && message.outcome._tag !== "Retry"
            return final && message.requestId.startsWith(operationPrefix) ? message.outcome : undefined
          }
        })
      )
    }

    const performing = function*(sequence: number, operation: KvOperation) {
      // One span per operation, retries included: its context goes with every attempt, so the
      // leader that finally takes the write parents its spans by it (see trace-context.ts).
      const span = spans.enabled
        ? spans.start("client.request", { "client.id": network.self, "kv.operation": operation._tag, "kv.key": operation.key }, { kind: "client" })
        : undefined
      const started = yield* clock.now
      let outcome: ClientOutcome | undefined
      let attempts = 0
      // The clock is read after each attempt that got no final answer, not before the first: in
      // the simulator no time passes between `started` and it, and on a real client a few
      // microseconds, which no operation timeout notices; and only a random placement's target takes an
      // Effect (a draw). On the standard Raft scenario that is 8% fewer Effect steps in clients
      // (50,670 to 46,833 over seeds 1-5), with the same draws and the same trace.
      let elapsedMs = 0
      // The clock as last read, from which each attempt's wait starts (no time passes in between).
      let nowMs = started
      while (outcome === undefined && elapsedMs < options.operationTimeoutMs) {
        attempts++
        const to = placement === "random" ? yield* otherServer : placement === "pinned" ? options.home! : leaderGuess
        const answer = yield* attempt(to, `${network.self}:${sequence}:${attempts}`, sequence, operation, span?.traceparent, nowMs)
        if (answer === undefined) {
          if (placement === "follow-leader") leaderGuess = yield* otherServer
        } else if (answer._tag === "NotLeader") {
          if (placement === "follow-leader") leaderGuess = answer.leaderHint ?? (yield* otherServer)
          yield* clock.sleep(options.requestTimeoutMs / 10)
        } else if (answer._tag === "Retry") {
          yield* clock.sleep(options.requestTimeoutMs / 10)
        } else {
          outcome = answer
        }
        if (outcome === undefined) {
          nowMs = yield* clock.now
          elapsedMs = nowMs - started
        }
      }
      span?.end(outcome === undefined ? "error" : "ok")
      return outcome
    }
    return { performing, leaderGuess: () => (placement === "pinned" ? options.home! : leaderGuess) }
  })

/**
 * Client `process` of the workload. Each operation is one invoke and one completion in the
 * history: `ok` with the observed value, `fail` when it certainly did not happen (a cas that did
 * not match, a read that got no answer), `info` when its outcome is unknown (a write that timed out).
 * Retries of a write keep its session sequence, so the cluster applies it at most once.
 */
export const raftClient = (process: number, options: RaftClientOptions): NodeProgram =>
  Effect.gen(function*() {
    const clock = yield* Clock
    const random = yield* Random
    const record = historyRecorder(yield* Tracing)
    const session = yield* openSession({ ...options, home: pinnedServer(options.servers, process) })

    // Registers (odd keys) take writes and cas, lists (even keys) take appends, as in Jepsen's
    // separate register and list-append workloads; reads and deletes go to either.
    const registers = options.keys.filter((_, index) => index % 2 === 0)
    const lists = options.keys.filter((_, index) => index % 2 === 1)
    for (let sequence = 1; sequence <= options.operations; sequence++) {
      yield* clock.sleep(options.thinkMs * (0.5 + (yield* random.next)))
      let f = pickWeighted(FUNCTIONS, options.mix, yield* random.next)
      if (f === "append" && lists.length === 0) f = "write"
      const pool = f === "append" ? lists : f === "write" || f === "cas" ? registers : options.keys
      // The contended keys are the first register and the first list, so every kind of operation meets there.
      const key = yield* chooseKey(random, { pool, hot: pool === options.keys ? pool.slice(0, 2) : pool.slice(0, 1), hotKeyShare: options.hotKeyShare ?? 0 })
      const fresh = process * 1_000_000 + sequence
      const expected = (yield* random.nextInt(4)) === 0 ? null : process * 1_000_000 + (yield* random.nextInt(Math.max(1, sequence)))
      const { operation, invokeValue } = makeOperation(f, key, fresh, expected)
      yield* record({ process, type: "invoke", f, key, value: invokeValue })
      const outcome = yield* session.performing(sequence, operation)
      yield* record(completion(process, f, key, invokeValue, outcome))
    }
  })

const makeOperation = (
  f: Function,
  key: string,
  fresh: number,
  expected: number | null
): { operation: KvOperation; invokeValue: JsonValue | null } => {
  switch (f) {
    case "read":
      return { operation: { _tag: "Get", key }, invokeValue: null }
    case "write":
      return { operation: { _tag: "Put", key, value: fresh }, invokeValue: fresh }
    case "cas":
      return { operation: { _tag: "Cas", key, expected, value: fresh }, invokeValue: [expected, fresh] }
    case "append":
      return { operation: { _tag: "Append", key, value: fresh }, invokeValue: fresh }
    case "delete":
      return { operation: { _tag: "Delete", key }, invokeValue: null }
    default: {
      const unreachable: never = f
      throw new Error(`unknown function ${String(unreachable)}`)
    }
  }
}

const completion = (
  process: number,
  f: Function,
  key: string,
  invokeValue: JsonValue | null,
  outcome: ClientOutcome | undefined
): HistoryReport => {
  if (outcome === undefined) {
    // A read that got no answer changed nothing; anything else may or may not have happened.
    return { process, type: f === "read" ? "fail" : "info", f, key, value: invokeValue }
  }
  switch (outcome._tag) {
    case "Value":
      return { process, type: "ok", f, key, value: outcome.value }
    case "Ok":
      return { process, type: "ok", f, key, value: invokeValue }
    case "CasResult":
      return { process, type: outcome.ok ? "ok" : "fail", f, key, value: invokeValue }
    case "NotLeader":
    case "Retry":
      throw new Error(`completion: ${outcome._tag} is not a final outcome`)
    default: {
      const unreachable: never = outcome
      throw new Error(`unknown outcome ${JSON.stringify(unreachable)}`)
    }
  }
}
