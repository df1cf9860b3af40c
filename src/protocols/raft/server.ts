// The Effect shell around the Raft core: ticks, messages, persistence before sending, applying, client requests.
import { Effect } from "effect"
import { Clock, type Envelope, mulberry32, Network, type NodeProgram, type Outgoing, Random, Storage, Tracing } from "../../env/index.ts"
import { type AdminOutcome, type AdminRequest, isAdminRequest, isClientReply, isClientRequest } from "./client-messages.ts"
import { assert } from "./assert.ts"
import { makeDurableState } from "./durable-state.ts"
import { makeForwarding } from "./forwarding.ts"
import { newRaft, type Raft } from "./raft.ts"
import { makeKvApplication } from "./kv-application.ts"
import { makeRaftTraceContext } from "./trace-context.ts"
import type { JsonValue, Message, RaftConfig, Ready } from "./types.ts"

/** Options of a Raft server, as a scenario states them: the core's timing and limits, plus the shell's own. */
export type RaftServerOptions = Pick<
  RaftConfig,
  | "electionTimeoutTicksMin"
  | "electionTimeoutTicksMax"
  | "heartbeatTicks"
  | "preVote"
  | "checkQuorum"
  | "maxEntriesPerAppend"
  | "maxInflightAppends"
> & {
  /** Simulated (or real) milliseconds per Raft tick. */
  readonly tickMs: number
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
 * Seams for tests: a variant may rewrite a Ready before it is persisted (for example to drop the vote,
 * planting the bug of granting a vote that a crash forgets). The shipped server passes none.
 */
export interface ServerHooks {
  readonly beforePersist?: (ready: Ready) => Ready
  readonly config?: (config: RaftConfig) => RaftConfig
  /** Replaces the decision of `sendsBeforePersist` (whether a Ready's messages leave before its sync). */
  readonly sendsBeforePersist?: (options: { readonly ready: Ready; readonly onlyAppends: boolean }) => boolean
  /** Rewrites the state machine's snapshot data before the snapshot is taken. */
  readonly snapshotData?: (data: JsonValue) => JsonValue
}

/** What drives a server: a tick of its clock, or a message (as it arrived, unwrapped). */
const TICK = { _tag: "Tick" } as const

type Input = typeof TICK | Envelope

const BACKLOG_CAPACITY = 10_000

/** At most this many messages are stepped before a Ready is made (and its sync started). */
const RECEIVE_BATCH = 256

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
    const traceContext = makeRaftTraceContext(tracing.spans)
    const storage = yield* Storage
    const durable = makeDurableState(storage)
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
    let snapshotIndex = snapshot?.lastIncludedIndex ?? 0
    yield* tracing.event("recover", {
      term: raft.term,
      votedFor: raft.votedFor,
      snapshotIndex,
      lastIndex: raft.lastIndex
    })

    // The decisions below are plain synchronous code: they queue what to send and what to trace,
    // and `flush` performs it all in one or two steps. Per message this avoids a generator and a
    // chain of Effects per step, which made the shell several times slower than the core it drives.
    let outbox: Array<Outgoing> = []
    let traced: Array<readonly [string, Record<string, unknown>]> = []
    const traceOne = (item: readonly [string, Record<string, unknown>]) => tracing.event(item[0], item[1])
    const flush = (): Effect.Effect<void> => {
      const messages = outbox
      const events = traced
      if (messages.length > 0) outbox = []
      if (events.length > 0) traced = []
      const sending = messages.length === 0 ? undefined : network.sendAll(messages)
      const tracingEvents = events.length === 0
        ? undefined
        : events.length === 1
        ? traceOne(events[0]!)
        : Effect.forEach(events, traceOne, { discard: true })
      if (sending === undefined) return tracingEvents ?? Effect.void
      return tracingEvents === undefined ? sending : Effect.andThen(sending, tracingEvents)
    }

    const app = makeKvApplication(
      {
        raft,
        reply: (client, requestId, outcome) => {
          outbox.push([client, { _tag: "ClientReply", requestId, outcome }])
        },
        trace: (name, attributes) => {
          traced.push([name, attributes])
        }
      },
      snapshot?.data
    )

    const needsCompaction = (): boolean =>
      options.snapshotEveryEntries > 0 &&
      app.appliedIndex() - snapshotIndex >= options.snapshotEveryEntries &&
      app.appliedIndex() <= raft.appliedIndex

    const compact = Effect.suspend(() => {
      const data = hooks.snapshotData === undefined ? app.snapshotData() : hooks.snapshotData(app.snapshotData())
      const taken = raft.reportSnapshotTaken(app.appliedIndex(), data)
      snapshotIndex = taken.lastIncludedIndex
      traced.push(["snapshot", { index: snapshotIndex }])
      return durable.compact(taken, raft.entries(raft.firstIndex, raft.lastIndex + 1))
    })

    /** Queues a Ready's messages to be sent. */
    const queueMessages = (ready: Ready): void => {
      for (const message of ready.messages) outbox.push(traceContext.outgoing(message))
    }

    /**
     * Whether a Ready's messages may leave before its entries are synced: the optimisation of
     * §10.2.1 of Ongaro's thesis, which etcd uses (its leader sends MsgApp in parallel with its own
     * fsync). A leader that stays leader only appends its own entries and changes nothing else
     * that must be durable (its term and vote were stored before it could win), so its messages
     * carry nothing it could forget: a follower that stores the entries stores them for a leader
     * that counts its own copy only once synced (`advance` moves its match to the stable index).
     * An entry then commits once a majority holds it durably, whether or not the leader is among
     * them, which is what §5.4 needs. Anything else (a role change, a snapshot, a truncation, a
     * term or vote) is persisted first, as the Ready contract says.
     */
    const sendsBeforePersist = (ready: Ready): boolean =>
      hooks.sendsBeforePersist === undefined
        ? raft.role === "Leader" && ready.softState === undefined && durable.onlyAppends(ready)
        : hooks.sendsBeforePersist({ ready, onlyAppends: durable.onlyAppends(ready) })

    /** The last term this server became candidate in, and the term it leads (undefined when not leading). */
    let candidateTerm = raft.term
    let ledTerm: number | undefined
    /** Everything a Ready asks for after it was persisted: apply, answer clients (and send, unless it was sent already). */
    const afterPersist = (ready: Ready, sent: boolean): void => {
      traceContext.synced()
      if (!sent) queueMessages(ready)
      // Role changes are traced as what the server did, so checkers can measure elections (see
      // src/check/raft-liveness.ts): each candidacy once per term (a candidate that times out
      // stays a candidate, in a new term), and a leader giving up the term it led.
      if (raft.role === "Candidate" && raft.term > candidateTerm) {
        candidateTerm = raft.term
        traced.push(["becomeCandidate", { term: raft.term }])
      }
      if (ready.softState !== undefined) {
        if (ready.softState.role === "Leader") {
          ledTerm = raft.term
          traced.push([
            "becomeLeader",
            { term: raft.term, runs: termRuns(raft), snapshotIndex: raft.firstIndex - 1, lastIndex: raft.lastIndex }
          ])
        } else {
          if (ledTerm !== undefined) traced.push(["stepDown", { term: ledTerm }])
          ledTerm = undefined
          if (app.hasWaitingClients()) app.abandonClients("leadership lost")
        }
      }
      if (ready.snapshot !== undefined) {
        app.install(ready.snapshot.data)
        snapshotIndex = ready.snapshot.lastIncludedIndex
        traced.push(["installSnapshot", { index: snapshotIndex }])
      }
      for (const entry of ready.committedEntries) app.applyEntry(entry)
      for (const readState of ready.readStates) app.readReady(readState)
      app.serveReads()
      traceContext.persisted(ready, raft)
      raft.advance(ready)
    }

    // Two fibers feed the node: one receives messages (all that are waiting, at once), one ticks.
    // Each input is stepped into the core at once; then the Readies are handled until none is left. One that needs no storage
    // (most of them: heartbeats, their answers, acknowledgements) is handled without leaving this
    // loop; one that does is handed to a third fiber, which persists and syncs it, and only then
    // is anything of it sent. While a Ready is being persisted (a sync may take simulated time),
    // the node is `busy`: the feeding fibers keep receiving, their inputs wait in the backlog and
    // are all stepped once the sync is done, so Readies never interleave, and the next Ready
    // carries every proposal that arrived during the sync: one append and one sync for many
    // client writes (group commit, as etcd gets from its Ready batching). Messages of earlier
    // Readies may wait in the outbox while a later one is persisted: sending later is always safe.
    // The backlog is bounded: past the bound, inputs are dropped, which Raft survives as it
    // survives loss.
    const backlog: Array<Input> = []
    let busy = false

    // At most one persistence job waits or runs at a time: a job is only handed over when not busy.
    // So the hand-off is one place, not a Queue: the persistence fiber either finds the job there
    // or waits, and is woken through this fiber's dispatcher, as a Queue's taker is (a task, so
    // that the rest of the turn's inputs are read first and go into the next Ready: group commit).
    // A Queue cost the fiber two takes, a wait and a flatten per job, a tenth of the simulator's
    // Effect steps.
    const dispatcher = yield* Effect.withFiber((fiber) => Effect.succeed(fiber.currentDispatcher))
    let handedOver: Effect.Effect<void, unknown> | undefined
    let resumePersistence: ((job: Effect.Effect<void, unknown>) => void) | undefined
    // The task that wakes the fiber, its cancel and the job's continuation are made once, not per
    // job: the standard scenario persists a Ready about once in eight events, and this (with the
    // simulator's batch receive) cut the bytes it allocates per five seeds by 4%.
    const wakePersistence = (): void => {
      const resume = resumePersistence
      const job = handedOver
      if (resume === undefined || job === undefined) return
      resumePersistence = undefined
      handedOver = undefined
      resume(job)
    }
    const stopWaiting = Effect.sync(() => {
      resumePersistence = undefined
    })
    const nextPersistence = Effect.callback<void, unknown>((resume) => {
      if (handedOver !== undefined) {
        const job = handedOver
        handedOver = undefined
        resume(job)
        return
      }
      resumePersistence = resume
      return stopWaiting
    })

    /** What runs once the job being persisted is done, before the backlog is stepped. */
    let afterJob: () => void = () => {}
    const finishJob = (): Effect.Effect<void, unknown> => {
      afterJob()
      busy = false
      if (backlog.length > 0) for (const input of backlog.splice(0, backlog.length)) step(input)
      return processReady()
    }

    // When storage never waits (the simulator without sync latency), the receive loop runs the
    // jobs it makes itself, right after sending what its inputs queued, rather than hand them to
    // the persistence fiber. That fiber would have run them next in any case, before anything
    // else could happen: the receive loop only goes back to wait for input, and none arrives
    // while nothing waits. So everything happens in the same order, and a wake and a resume of a
    // fiber per job are saved. `runsInline` is set while a batch of input and the jobs that
    // follow it run so (a job's own Readies may make the next job).
    let runsInline = false

    /**
     * Hands `io` to the persistence fiber and marks the node busy at once, so that no input is
     * stepped (and no Ready made) before the one being persisted is advanced. Once `io` is done,
     * `then` runs and the backlog is stepped. Returns what to run now: the flush of what the
     * Readies queued, and the job too when it runs inline.
     */
    const persistThen = (io: Effect.Effect<void, unknown>, then: () => void): Effect.Effect<void, unknown> => {
      assert(!busy, () => "raft server: a persistence job was queued while another one is under way")
      busy = true
      afterJob = then
      const job = Effect.andThen(io, finishJob)
      const flushing = flush()
      if (runsInline) return flushing === Effect.void ? job : Effect.andThen(flushing, job)
      handedOver = job
      if (resumePersistence !== undefined) dispatcher.scheduleTask(wakePersistence, 0)
      return flushing
    }

    const processReady = (): Effect.Effect<void, unknown> => {
      while (raft.hasReady()) {
        const ready = raft.ready()
        const persisted = hooks.beforePersist === undefined ? ready : hooks.beforePersist(ready)
        if (durable.needsStorage(persisted)) {
          // Earlier Readies' messages go out now; this one's only when it may leave before its sync.
          const sent = sendsBeforePersist(persisted)
          if (sent) queueMessages(ready)
          return persistThen(traceContext.persisting(persisted, durable.persist(persisted)), () => afterPersist(ready, sent))
        }
        afterPersist(ready, false)
      }
      // What the Readies queued goes out before a compaction's syncs, not after them.
      if (needsCompaction()) return persistThen(compact, () => {})
      runsInline = false
      return flush()
    }

    const forwarding = makeForwarding()

    const handleAdmin = (client: string, request: AdminRequest): void => {
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
      outbox.push([client, { _tag: "AdminReply", requestId: request.requestId, outcome }])
    }

    const step = (input: Input): void => {
      if (input === TICK) {
        raft.tick()
        return
      }
      const { from, message } = input as Envelope
      if (isClientRequest(message)) {
        const forwarded = forwarding.route(from, message, { self: network.self, role: raft.role, leader: raft.leader })
        if (forwarded !== undefined) {
          outbox.push([forwarded.to, forwarded.request, (input as Envelope).traceparent])
          return
        }
        app.handleClient(from, message)
      } else if (isClientReply(message)) {
        // The leader's answer to a request this server forwarded: it goes back to the client.
        const client = forwarding.relay(message)
        if (client !== undefined) outbox.push([client, message])
        return
      } else if (isAdminRequest(message)) {
        handleAdmin(from, message)
      } else {
        const raftMessage = message as Message
        // A message meant for another incarnation or another node is dropped, not trusted.
        if (raftMessage.to !== network.self || typeof raftMessage._tag !== "string") return
        raft.step(raftMessage)
      }
      traceContext.stepped(input as Envelope, raft)
    }

    const drive = (input: Input): Effect.Effect<void, unknown> => {
      if (busy) {
        if (backlog.length < BACKLOG_CAPACITY) backlog.push(input)
        return Effect.void
      }
      step(input)
      return processReady()
    }

    /** Steps every message that arrived together, then makes one Ready for all of them. */
    const driveAll = (inputs: ReadonlyArray<Input>): Effect.Effect<void, unknown> => {
      if (inputs.length === 1) return drive(inputs[0]!)
      if (busy) {
        for (const input of inputs) if (backlog.length < BACKLOG_CAPACITY) backlog.push(input)
        return Effect.void
      }
      for (const input of inputs) step(input)
      return processReady()
    }

    /** `driveAll`, running the jobs it makes in this fiber (see `runsInline`). */
    const driveAllInline = (inputs: ReadonlyArray<Input>): Effect.Effect<void, unknown> => {
      // While busy (the job made at start, not yet taken), the inputs only wait in the backlog.
      runsInline = !busy
      return driveAll(inputs)
    }

    yield* Effect.suspend(processReady)
    // Either loop failing (a storage error while persisting) fails the server as a whole, as a
    // real server stops on a disk error; a forked child's failure would leave the other loop
    // running with the node stuck busy.
    yield* Effect.all(
      [
        Effect.forever(Effect.flatMap(clock.sleep(options.tickMs), () => drive(TICK)), { disableYield: true }),
        Effect.forever(Effect.flatMap(network.receiveAll(RECEIVE_BATCH), storage.neverWaits === true ? driveAllInline : driveAll), {
          disableYield: true
        }),
        Effect.forever(nextPersistence, { disableYield: true })
      ],
      { concurrency: "unbounded", discard: true }
    )
  })
