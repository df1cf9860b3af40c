// A key-value client of the quorum store: reads from any node, writes through an owner naming the
// context of its last read of the key, and reports a Jepsen-style history through the shared kv layer.
import { Effect } from "effect"
import { Clock, Network, type NodeProgram, Random } from "../../env/index.ts"
import type { JsonValue } from "../../env/json.ts"
import type { VectorClock } from "../clocks/vector-clock.ts"
import { awaitReply, chooseKey, type HistoryReport, type KvWorkloadOptions, pickWeighted, pinnedServer, recordHistory } from "../kv/index.ts"
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
    const network = yield* Network
    const clock = yield* Clock
    const random = yield* Random
    const lastRead = new Map<string, ReadState>()
    const pickServer = options.placement === "pinned"
      ? Effect.succeed(pinnedServer(options.servers, process))
      : Effect.map(random.nextInt(options.servers.length), (index) => options.servers[index]!)

    const attempt = (to: string, requestId: string, message: unknown) =>
      Effect.andThen(
        network.send(to, message),
        awaitReply<ClientOutcome>({
          network,
          clock,
          timeoutMs: options.requestTimeoutMs,
          accept: (reply) => (isReply(reply) && reply.requestId === requestId ? reply.outcome : undefined)
        })
      )

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

    const write = (sequence: number, key: string, value: number, context: VectorClock) =>
      Effect.gen(function*() {
        let to = yield* pickServer
        const started = yield* clock.now
        for (let tries = 1; (yield* clock.now) - started < options.operationTimeoutMs; tries++) {
          const requestId = `${network.self}:${sequence}:${tries}`
          const outcome = yield* attempt(to, requestId, { _tag: "Put", requestId, key, value, context })
          if (outcome === undefined) return undefined
          if (outcome._tag === "Written") return outcome
          if (outcome._tag === "NotOwner") to = outcome.owners[yield* random.nextInt(outcome.owners.length)] ?? to
          else to = yield* pickServer
        }
        return undefined
      })

    for (let sequence = 1; sequence <= options.operations; sequence++) {
      yield* clock.sleep(options.thinkMs * (0.5 + (yield* random.next)))
      const f = pickWeighted(FUNCTIONS, options.mix, yield* random.next)
      const key = yield* chooseKey({ pool: options.keys, hot: options.keys.slice(0, 1), hotKeyShare: options.hotKeyShare ?? 0 })
      if (f === "read") {
        yield* recordHistory({ process, type: "invoke", f, key, value: null })
        const outcome = yield* read(sequence, key)
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
        const outcome = yield* write(sequence, key, value, seen?.context ?? {})
        yield* recordHistory({ process, type: outcome === undefined ? "info" : "ok", f, key, value })
      }
    }
  })
