// The Effect shell of a search replica: replay each shard's log, then serve batched writes (logged and synced before acked)
// and queries, and copy the shards a membership change gives it from a node that held them.
import { Effect } from "effect"
import { assert } from "../assert.ts"
import { Clock, type Envelope, Network, type NodeProgram, Tracing } from "../../env/index.ts"
import type { IndexOptions } from "./index-store.ts"
import { incomingOf, shardMoves } from "./membership.ts"
import { asMessage, type Delete, type Entries, type Fetch, type Insert, type Membership, type Query } from "./messages.ts"
import { ReleasedShards } from "./released-shards.ts"
import { ShardReplica } from "./replica.ts"
import { appendLog, appendMembership, type LogEntry, readLog, readMemberships, syncLog } from "./shard-log.ts"
import { type ShardMap, shardsHeldBy, withMembers } from "./shards.ts"

/** The modelled cost of HNSW work in simulated time; the real work happens too, this says how long it takes. */
export interface CostModel {
  /** Fixed cost of one query on one shard. */
  readonly queryBaseMs: number
  /** Added per unit of ef (a search visits about ef candidates, each costing a few distance computations). */
  readonly queryPerEfMs: number
  /** Cost of adding one vector to the index. */
  readonly insertMs: number
}

/** Options of a search replica. */
export interface ReplicaOptions {
  readonly map: ShardMap
  readonly index: IndexOptions
  readonly cost: CostModel
  /** At most this many messages are taken into one batch (one sync per shard per batch). */
  readonly maxBatch: number
  /** Told when a shard this node gained is ready to take over. */
  readonly clients: ReadonlyArray<string>
  /** How often a copy in progress asks its source again when no answer came, and a ready shard is announced again. */
  readonly retryMs: number
}

/** Log entries sent in one `Entries` message: bounded, so a large shard moves in many small steps. */
const FETCH_CHUNK_ENTRIES = 128
/** How many times a new owner announces a ready shard (announcements can be lost; clients that miss them keep the old replicas). */
const READY_ANNOUNCEMENTS_MAX = 20

/** A shard this node gained and is copying from `source`: `cursor` entries of the source's log are in. */
interface Incoming {
  readonly source: string
  readonly epoch: number
  cursor: number
  cursorAtLastTick: number
  ready: boolean
  announcements: number
}

/** Seams for tests: the shipped node passes none. `ackBeforeSync` plants a durability bug. */
export interface ReplicaHooks {
  readonly ackBeforeSync?: boolean
}

type Write = { readonly from: string; readonly message: Insert | Delete }

const toEntry = (message: Insert | Delete): LogEntry =>
  message._tag === "Insert" ? { op: "insert", id: message.id, vector: message.vector } : { op: "delete", id: message.id }

/** A replica node: holds every shard the shard map gives it, each in a real HNSW index rebuilt from its log on restart. */
export const searchReplica = (options: ReplicaOptions, hooks: ReplicaHooks = {}): NodeProgram =>
  Effect.gen(function*() {
    const network = yield* Network
    const clock = yield* Clock
    const tracing = yield* Tracing
    const replicas = new Map<string, ShardReplica>()
    const incoming = new Map<string, Incoming>()
    // A released shard lingers as long as its new owner announces it ready: a client still asking this node after that
    // has missed every announcement, and a late message loads the shard again anyway.
    const released = new ReleasedShards(READY_ANNOUNCEMENTS_MAX * options.retryMs)
    let map = options.map
    let epoch = 0

    const open = (shard: string) =>
      Effect.gen(function*() {
        if (replicas.has(shard)) return
        const replica = new ShardReplica(options.index)
        // Replayed in log order: with hnswlib's fixed seed this rebuilds the same graph.
        for (const entry of yield* readLog(shard)) replica.apply(entry)
        replica.synced = replica.entries
        replicas.set(shard, replica)
        if (!released.isUnloaded(shard)) return yield* tracing.event("recover", { shard, entries: replica.entries, size: replica.index.size })
        released.reloaded(shard, shardsHeldBy(map, network.self).includes(shard), yield* clock.now)
        yield* tracing.event("shardReloaded", { shard, entries: replica.entries, size: replica.index.size })
      })

    /** After a membership change: starts the linger of the shards this node gives up, and loads those it holds again. */
    const trackReleases = Effect.gen(function*() {
      const { releasing, reload } = released.adopt(shardsHeldBy(map, network.self), replicas.keys())
      for (const shard of reload) yield* open(shard)
      if (releasing.length > 0) released.released(releasing, yield* clock.now)
    })

    /** Unloads the released shards no one asked for during the linger, once every entry of theirs is synced. */
    const unloadIdle = Effect.gen(function*() {
      for (const shard of released.idle(yield* clock.now)) {
        const replica = replicas.get(shard)
        assert(replica !== undefined, () => `released shard ${shard} is not loaded`)
        if (replica.synced !== replica.entries || incoming.get(shard)?.ready === false) continue
        replicas.delete(shard)
        released.unload(shard)
        yield* tracing.event("shardUnloaded", { shard, entries: replica.entries })
      }
    })

    /**
     * A message asks for `shard`: a released shard counts as used; returns whether it was unloaded and must be loaded
     * again first. A plain check, not an effect, so that a node with nothing released does no extra step per message.
     */
    const mustReload = (shard: string) => released.any && released.touch(shard)

    /** Moves to the membership of `next`: opens the shards this node gains and starts copying each from its source. */
    const adopt = (next: { readonly epoch: number; readonly nodes: ReadonlyArray<string> }) =>
      Effect.gen(function*() {
        const before = map
        map = withMembers(map, next.nodes)
        epoch = next.epoch
        for (const { shard, source } of incomingOf(shardMoves(before, map), network.self)) {
          yield* open(shard)
          incoming.set(shard, { source, epoch, cursor: 0, cursorAtLastTick: -1, ready: false, announcements: 0 })
          yield* tracing.event("shardCopy", { shard, source, epoch })
          yield* network.send(source, { _tag: "Fetch", shard, after: 0 })
        }
        yield* trackReleases
      })

    // A restart replays the adopted memberships too: a shard gained before the crash is copied again (what is
    // already in its log is acknowledged as logged), and a shard given up stays open for clients not yet told.
    for (const shard of shardsHeldBy(map, network.self)) yield* open(shard)
    for (const entry of yield* readMemberships) yield* adopt(entry)

    const onMembership = (message: Membership) =>
      Effect.gen(function*() {
        if (message.epoch <= epoch || message.nodes.length === 0) return
        yield* appendMembership({ epoch: message.epoch, nodes: message.nodes })
        yield* tracing.event("membership", { epoch: message.epoch, nodes: [...message.nodes] })
        yield* adopt(message)
        if (incoming.size > 0) yield* startTicker
      })

    /** Appends entries just applied to `shard`'s log (the caller syncs) and waits their modelled cost. */
    const persist = (shard: string, fresh: ReadonlyArray<{ readonly entry: LogEntry; readonly position: number }>) =>
      Effect.gen(function*() {
        yield* appendLog(shard, fresh.map(({ entry }) => entry))
        for (const { entry, position } of fresh) yield* tracing.event("stored", { shard, id: entry.id, op: entry.op, position })
        yield* clock.sleep(options.cost.insertMs * fresh.length)
      })

    /** Logs one shard's new writes, syncs once, applies them in log order, then acknowledges every write of the batch. */
    const writeShard = (shard: string, replica: ShardReplica, writes: ReadonlyArray<Write>) =>
      Effect.gen(function*() {
        const fresh: Array<{ readonly entry: LogEntry; readonly position: number }> = []
        const acks: Array<{ readonly write: Write; readonly position: number }> = []
        for (const write of writes) {
          // Decided one at a time against what the batch already applied, so a write repeated within a batch is logged once.
          const decision = replica.decide(toEntry(write.message))
          if (decision._tag === "AlreadyLogged") acks.push({ write, position: decision.position })
          else {
            const position = replica.apply(decision.entry)
            fresh.push({ entry: decision.entry, position })
            acks.push({ write, position })
          }
        }
        const acknowledge = Effect.gen(function*() {
          for (const { write, position } of acks) {
            const op = write.message._tag === "Insert" ? "insert" : "delete"
            yield* tracing.event("acked", { shard, id: write.message.id, op, position })
          }
          yield* network.sendAll(acks.map(({ write }) => [write.from, {
            _tag: "Acked", op: write.message._tag === "Insert" ? "insert" : "delete", shard, id: write.message.id
          }] as const))
        })
        if (fresh.length > 0) {
          yield* persist(shard, fresh)
          if (hooks.ackBeforeSync === true) yield* acknowledge
          yield* syncLog(shard)
          replica.synced = replica.entries
          if (hooks.ackBeforeSync === true) return
        }
        yield* acknowledge
      })

    /** A source's answer to a copy: only synced entries, so what a new owner copies survives the source's crashes. */
    const serveFetch = (from: string, fetch: Fetch) => {
      const replica = replicas.get(fetch.shard)
      if (replica === undefined) return Effect.void
      const entries = replica.log.slice(fetch.after, Math.min(replica.synced, fetch.after + FETCH_CHUNK_ENTRIES))
      return network.send(from, { _tag: "Entries", shard: fetch.shard, after: fetch.after, entries, synced: replica.synced })
    }

    /** Takes the next chunk of a copy in order (duplicates and stale answers are dropped), then asks for more or announces the shard ready. */
    const onEntries = (from: string, message: Entries) =>
      Effect.gen(function*() {
        const copy = incoming.get(message.shard)
        const replica = replicas.get(message.shard)
        if (copy === undefined || replica === undefined || from !== copy.source || message.after !== copy.cursor) return
        const fresh: Array<{ readonly entry: LogEntry; readonly position: number }> = []
        for (const entry of message.entries) {
          const decision = replica.decide(entry)
          if (decision._tag === "Append") fresh.push({ entry, position: replica.apply(entry) })
        }
        if (fresh.length > 0) {
          yield* persist(message.shard, fresh)
          yield* syncLog(message.shard)
          replica.synced = replica.entries
        }
        copy.cursor += message.entries.length
        if (copy.cursor < message.synced) return yield* network.send(from, { _tag: "Fetch", shard: message.shard, after: copy.cursor })
        if (copy.ready) return
        copy.ready = true
        yield* tracing.event("shardReady", { shard: message.shard, epoch: copy.epoch, entries: replica.entries, size: replica.index.size })
        yield* announce(message.shard, copy)
      })

    const announce = (shard: string, copy: Incoming) => {
      copy.announcements++
      return network.sendAll(options.clients.map((client) => [client, { _tag: "ShardReady", epoch: copy.epoch, shard }] as const))
    }

    /**
     * Asks again for a copy that made no progress since the last tick, and repeats each ready shard's announcement a
     * few times; returns whether any copy still needs the ticker.
     */
    const tick = Effect.gen(function*() {
      let busy = false
      for (const [shard, copy] of incoming) {
        if (!copy.ready && copy.cursor === copy.cursorAtLastTick) yield* network.send(copy.source, { _tag: "Fetch", shard, after: copy.cursor })
        copy.cursorAtLastTick = copy.cursor
        if (copy.ready && copy.announcements < READY_ANNOUNCEMENTS_MAX) yield* announce(shard, copy)
        busy ||= !copy.ready || copy.announcements < READY_ANNOUNCEMENTS_MAX
      }
      return busy
    })

    // The ticker runs only while a copy is in progress or announced, so a node that gains nothing has no timer. It only
    // sends; every change to the replica's state happens in the receive loop, one batch at a time.
    let ticking = false
    const startTicker = Effect.gen(function*() {
      if (ticking) return
      ticking = true
      yield* Effect.forkChild(Effect.gen(function*() {
        do yield* clock.sleep(options.retryMs)
        while (yield* tick)
        ticking = false
      }))
    })

    const answer = (from: string, query: Query) =>
      Effect.gen(function*() {
        const replica = replicas.get(query.shard)
        // A shard still being copied is incomplete: it stays silent, and the client's hedge or its partial flag covers it.
        if (replica === undefined || incoming.get(query.shard)?.ready === false) return
        yield* clock.sleep(options.cost.queryBaseMs + options.cost.queryPerEfMs * Math.max(query.ef, query.k))
        const hits = replica.index.search(query.vector, query.k, query.ef)
        yield* tracing.event("served", { client: from, query: query.query, shard: query.shard })
        yield* network.send(from, { _tag: "Hits", query: query.query, shard: query.shard, ...hits })
      })

    const handleBatch = (batch: ReadonlyArray<Envelope>) =>
      Effect.gen(function*() {
        const writes = new Map<string, Array<Write>>()
        const queries: Array<{ readonly from: string; readonly query: Query }> = []
        for (const envelope of batch) {
          const message = asMessage(envelope.message)
          if (message === undefined) continue
          switch (message._tag) {
            case "Insert":
            case "Delete": {
              if (mustReload(message.shard)) yield* open(message.shard)
              if (!replicas.has(message.shard)) break
              const list = writes.get(message.shard) ?? []
              list.push({ from: envelope.from, message })
              writes.set(message.shard, list)
              break
            }
            case "Query":
              if (mustReload(message.shard)) yield* open(message.shard)
              queries.push({ from: envelope.from, query: message })
              break
            case "Membership":
              yield* onMembership(message)
              break
            case "Fetch":
              if (mustReload(message.shard)) yield* open(message.shard)
              yield* serveFetch(envelope.from, message)
              break
            case "Entries":
              yield* onEntries(envelope.from, message)
              break
            case "Acked":
            case "Hits":
            case "ShardReady":
              break
            default: {
              const unreachable: never = message
              throw new Error(`unknown message ${JSON.stringify(unreachable)}`)
            }
          }
        }
        for (const [shard, list] of [...writes].sort(([left], [right]) => (left < right ? -1 : 1))) {
          yield* writeShard(shard, replicas.get(shard)!, list)
        }
        for (const { from, query } of queries) yield* answer(from, query)
        if (released.any) yield* unloadIdle
      })

    if (incoming.size > 0) yield* startTicker
    while (true) yield* handleBatch(yield* network.receiveAll(options.maxBatch))
  })
