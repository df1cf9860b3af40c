// The Effect shell around the Raft core: ticks, messages, persistence before sending, applying, client requests.
import { Effect, Queue } from "effect"
import { Clock, type Envelope, mulberry32, Network, type NodeProgram, Random, Tracing } from "../../env/index.ts"
import {
  type AdminOutcome,
  type AdminRequest,
  type ClientOutcome,
  type ClientRequest,
  isAdminRequest,
  isClientRequest
} from "./client-messages.ts"
import { makeDurableState } from "./durable-state.ts"
import { newRaft, type Raft } from "./raft.ts"
import { apply, emptyKvState, type KvResult, type KvState, restore, snapshotData } from "./state-machine.ts"
import type { Entry, Message, RaftConfig, Ready } from "./types.ts"

/** Options of a Raft server, as a scenario states them. */
export interface RaftServerOptions {
  /** Simulated (or real) milliseconds per Raft tick. */
  readonly tickMs: number
  readonly electionTimeoutTicksMin: number
  readonly electionTimeoutTicksMax: number
  readonly heartbeatTicks: number
  readonly preVote: boolean
  readonly checkQuorum: boolean
  readonly maxEntriesPerAppend: number
  readonly maxInflightAppends: number
  /** Take a snapshot and compact the log once this many entries were applied since the last one; 0 never. */
  readonly snapshotEveryEntries: number
}

export const defaultRaftServerOptions: RaftServerOptions = {
  // etcd's defaults are a 100 ms tick, a 10-tick election timeout and a 1-tick heartbeat; a
  // 50 ms tick keeps elections quick in simulated time without ticking more than needed.
  tickMs: 50,
  electionTimeoutTicksMin: 10,
  electionTimeoutTicksMax: 20,
  heartbeatTicks: 2,
  preVote: true,
  checkQuorum: true,
  maxEntriesPerAppend: 64,
  maxInflightAppends: 8,
  snapshotEveryEntries: 200
}

/**
 * A seam for tests: it may rewrite a Ready before it is persisted (for example to drop the vote,
 * planting the bug of granting a vote that a crash forgets). The shipped server passes none.
 */
export interface ServerHooks {
  readonly beforePersist?: (ready: Ready) => Ready
  readonly config?: (config: RaftConfig) => RaftConfig
}

type Input = { readonly _tag: "Tick" } | { readonly _tag: "Receive"; readonly envelope: Envelope }

const TICK: Input = { _tag: "Tick" }

const INBOX_CAPACITY = 10_000

interface PendingWrite {
  readonly client: string
  readonly request: ClientRequest
}

interface PendingRead {
  readonly client: string
  readonly request: ClientRequest
  readonly key: string
}

/** The outcome a client sees for a state-machine result. */
const outcomeOf = (result: KvResult): ClientOutcome => {
  switch (result._tag) {
    case "Value":
      return { _tag: "Value", value: result.value }
    case "Ok":
      return { _tag: "Ok" }
    case "CasResult":
      return { _tag: "CasResult", ok: result.ok, current: result.current }
    case "StaleSequence":
      return { _tag: "Retry", reason: "stale sequence" }
    default: {
      const unreachable: never = result
      throw new Error(`unknown result ${JSON.stringify(unreachable)}`)
    }
  }
}

/** Runs of equal terms in a log, as [firstIndex, term] pairs: a compact picture for the checkers. */
const termRuns = (raft: Raft): Array<[number, number]> => {
  const runs: Array<[number, number]> = []
  for (let index = raft.firstIndex; index <= raft.lastIndex; index++) {
    const term = raft.termAt(index)!
    if (runs.length === 0 || runs.at(-1)![1] !== term) runs.push([index, term])
  }
  return runs
}

/**
 * A Raft server of the replicated key-value store. It needs only the environment, so the same code
 * runs in the simulator and on real nodes. Every Ready is persisted and synced before its messages
 * are sent (etcd's rule), then its committed entries are applied and waiting clients answered.
 */
export const raftServer = (voters: ReadonlyArray<string>, options: RaftServerOptions, hooks: ServerHooks = {}): NodeProgram =>
  Effect.gen(function*() {
    const network = yield* Network
    const clock = yield* Clock
    const random = yield* Random
    const tracing = yield* Tracing
    const durable = makeDurableState()
    const { restored, snapshot } = yield* durable.recover
    let config: RaftConfig = {
      id: network.self,
      peers: voters,
      electionTimeoutTicksMin: options.electionTimeoutTicksMin,
      electionTimeoutTicksMax: options.electionTimeoutTicksMax,
      heartbeatTicks: options.heartbeatTicks,
      preVote: options.preVote,
      checkQuorum: options.checkQuorum,
      maxEntriesPerAppend: options.maxEntriesPerAppend,
      maxInflightAppends: options.maxInflightAppends,
      randomInt: ((generator) => (bound: number) => Math.floor(generator() * bound))(mulberry32(yield* random.nextInt(2 ** 31)))
    }
    if (hooks.config !== undefined) config = hooks.config(config)
    const raft = newRaft(config, restored)
    let kv: KvState = snapshot === undefined ? emptyKvState() : restore(snapshot.data)
    let snapshotIndex = snapshot?.lastIncludedIndex ?? 0
    yield* tracing.event("recover", {
      term: raft.term,
      votedFor: raft.votedFor,
      snapshotIndex,
      lastIndex: raft.lastIndex
    })

    const pendingWrites = new Map<number, PendingWrite>()
    const pendingReads = new Map<string, PendingRead>()
    const readyReads: Array<{ readonly requestId: string; readonly index: number }> = []

    const reply = (client: string, requestId: string, outcome: ClientOutcome) =>
      network.send(client, { _tag: "ClientReply", requestId, outcome })

    /** Answers every waiting client with Retry, when this server stops leading. */
    const abandonClients = (reason: string) =>
      Effect.gen(function*() {
        for (const [, pending] of pendingWrites) yield* reply(pending.client, pending.request.requestId, { _tag: "Retry", reason })
        for (const [, pending] of pendingReads) yield* reply(pending.client, pending.request.requestId, { _tag: "Retry", reason })
        pendingWrites.clear()
        pendingReads.clear()
        readyReads.length = 0
      })

    const applyEntry = (entry: Entry) =>
      Effect.gen(function*() {
        if (entry.index <= kv.appliedIndex) return
        const result = apply(kv, entry)
        yield* tracing.event("apply", { index: entry.index, term: entry.term, command: entry.command })
        const pending = pendingWrites.get(entry.index)
        if (pending === undefined) return
        pendingWrites.delete(entry.index)
        const command = entry.command
        const mine =
          result._tag === "Kv" &&
          command._tag === "Kv" &&
          command.clientId === pending.request.clientId &&
          command.sequence === pending.request.sequence
        yield* reply(
          pending.client,
          pending.request.requestId,
          mine ? outcomeOf(result.result) : { _tag: "Retry", reason: "entry replaced by another leader" }
        )
      })

    const serveReads = Effect.gen(function*() {
      while (readyReads.length > 0 && readyReads[0]!.index <= kv.appliedIndex) {
        const { requestId } = readyReads.shift()!
        const pending = pendingReads.get(requestId)
        if (pending === undefined) continue
        pendingReads.delete(requestId)
        yield* reply(pending.client, requestId, { _tag: "Value", value: kv.values.get(pending.key) ?? null })
      }
    })

    const maybeCompact = Effect.gen(function*() {
      if (options.snapshotEveryEntries <= 0 || kv.appliedIndex - snapshotIndex < options.snapshotEveryEntries) return
      if (kv.appliedIndex > raft.appliedIndex) return
      const taken = raft.reportSnapshotTaken(kv.appliedIndex, snapshotData(kv))
      snapshotIndex = taken.lastIncludedIndex
      yield* durable.compact(taken, raft.entries(raft.firstIndex, raft.lastIndex + 1))
      yield* tracing.event("snapshot", { index: snapshotIndex })
    })

    const handleReady = Effect.gen(function*() {
      while (raft.hasReady()) {
        const ready = raft.ready()
        yield* durable.persist(hooks.beforePersist === undefined ? ready : hooks.beforePersist(ready))
        for (const message of ready.messages) yield* network.send(message.to, message)
        if (ready.softState !== undefined) {
          if (ready.softState.role === "Leader") {
            yield* tracing.event("becomeLeader", {
              term: raft.term,
              runs: termRuns(raft),
              snapshotIndex: raft.firstIndex - 1,
              lastIndex: raft.lastIndex
            })
          } else if (pendingWrites.size > 0 || pendingReads.size > 0) {
            yield* abandonClients("leadership lost")
          }
        }
        if (ready.snapshot !== undefined) {
          kv = restore(ready.snapshot.data)
          snapshotIndex = ready.snapshot.lastIncludedIndex
          yield* tracing.event("installSnapshot", { index: snapshotIndex })
        }
        for (const entry of ready.committedEntries) yield* applyEntry(entry)
        readyReads.push(...ready.readStates)
        yield* serveReads
        raft.advance(ready)
        yield* maybeCompact
      }
    })

    const handleClient = (client: string, request: ClientRequest) =>
      Effect.gen(function*() {
        if (request.operation._tag === "Get") {
          // The network may duplicate a request; the copy waits on the read already under way.
          if (pendingReads.has(request.requestId)) return
          const result = raft.readIndex(request.requestId)
          if (result._tag === "Accepted") {
            pendingReads.set(request.requestId, { client, request, key: request.operation.key })
          } else if (result._tag === "NotLeader") {
            yield* reply(client, request.requestId, { _tag: "NotLeader", leaderHint: result.leaderHint })
          } else {
            yield* reply(client, request.requestId, { _tag: "Retry", reason: "busy" })
          }
          return
        }
        const result = raft.propose({
          _tag: "Kv",
          clientId: request.clientId,
          sequence: request.sequence,
          operation: request.operation
        })
        switch (result._tag) {
          case "Accepted": {
            const displaced = pendingWrites.get(result.index)
            if (displaced !== undefined) {
              yield* reply(displaced.client, displaced.request.requestId, { _tag: "Retry", reason: "entry replaced" })
            }
            pendingWrites.set(result.index, { client, request })
            return
          }
          case "NotLeader":
            return yield* reply(client, request.requestId, { _tag: "NotLeader", leaderHint: result.leaderHint })
          case "Rejected":
            return yield* reply(client, request.requestId, { _tag: "Retry", reason: result.reason })
          default: {
            const unreachable: never = result
            throw new Error(`unknown propose result ${JSON.stringify(unreachable)}`)
          }
        }
      })

    const handleAdmin = (client: string, request: AdminRequest) => {
      const action = request.action
      const result =
        action._tag === "TransferLeadership"
          ? raft.transferLeadership(action.target)
          : raft.proposeConfigChange({ _tag: action._tag, node: action.node })
      const outcome: AdminOutcome =
        result._tag === "Accepted"
          ? { _tag: "Done" }
          : result._tag === "NotLeader"
          ? { _tag: "NotLeader", leaderHint: result.leaderHint }
          : { _tag: "Rejected", reason: result.reason }
      return network.send(client, { _tag: "AdminReply", requestId: request.requestId, outcome })
    }

    const handle = (input: Input) =>
      Effect.gen(function*() {
        if (input._tag === "Tick") {
          raft.tick()
        } else {
          const { from, message } = input.envelope
          if (isClientRequest(message)) {
            yield* handleClient(from, message)
          } else if (isAdminRequest(message)) {
            yield* handleAdmin(from, message)
          } else {
            const raftMessage = message as Message
            // A message meant for another incarnation or another node is dropped, not trusted.
            if (raftMessage.to !== network.self || typeof raftMessage._tag !== "string") return
            raft.step(raftMessage)
          }
        }
        yield* handleReady
      })

    // The node's own inbox, made inside its fiber so it uses the simulator's scheduler. It is
    // bounded: past the bound new inputs are dropped, which Raft survives as it survives loss.
    const inbox = yield* Queue.make<Input>({ capacity: INBOX_CAPACITY, strategy: "dropping" })
    yield* Effect.forkChild(
      Effect.forever(Effect.flatMap(network.receive, (envelope) => Queue.offer(inbox, { _tag: "Receive", envelope })), {
        disableYield: true
      })
    )
    yield* Effect.forkChild(
      Effect.forever(Effect.flatMap(clock.sleep(options.tickMs), () => Queue.offer(inbox, TICK)), { disableYield: true })
    )
    yield* handleReady
    yield* Effect.forever(Effect.flatMap(Queue.take(inbox), handle), { disableYield: true })
  })
