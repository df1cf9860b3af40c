// A hand-driven, in-memory cluster of Raft cores for unit tests (etcd's `network` helper in
// raft_test.go): it plays the shell's part (persist, then send, then apply) without any simulator.
import { assert } from "./assert.ts"
import { newRaft, type Raft } from "./raft.ts"
import { apply, restore, snapshotData, type ApplyResult, type KvState } from "./state-machine.ts"
import type {
  Entry,
  HardState,
  Message,
  NodeId,
  RaftConfig,
  RaftRules,
  Ready,
  ReadState,
  RestoredState,
  Snapshot
} from "./types.ts"

/** What one server has on stable storage. */
export interface MemoryStorage {
  hardState: HardState
  snapshot: Snapshot | undefined
  entries: Entry[]
}

/** Tunables of a test cluster; every server gets the same ones. */
export interface TestOptions {
  readonly preVote?: boolean
  readonly checkQuorum?: boolean
  readonly electionTimeoutTicksMin?: number
  readonly electionTimeoutTicksMax?: number
  readonly heartbeatTicks?: number
  readonly maxEntriesPerAppend?: number
  readonly maxInflightAppends?: number
  /** Rules that replace the paper's (see RaftRules), for tests of planted bugs. */
  readonly rules?: Partial<RaftRules>
}

/** A small deterministic generator (mulberry32) standing in for the shell's random service. */
export function seededRandomInt(seed: number): (bound: number) => number {
  let state = seed >>> 0
  return (bound) => {
    state = (state + 0x6d2b79f5) >>> 0
    let mixed = state
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1)
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61)
    const unit = ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296
    return Math.floor(unit * bound)
  }
}

function seedOf(id: NodeId): number {
  let hash = 17
  for (const char of id) hash = (hash * 31 + char.charCodeAt(0)) >>> 0
  return hash
}

/** A server configuration with test defaults: election timeout [10, 20), heartbeat 1. */
export function testConfig(id: NodeId, peers: ReadonlyArray<NodeId>, options: TestOptions = {}): RaftConfig {
  return {
    id,
    peers,
    electionTimeoutTicksMin: options.electionTimeoutTicksMin ?? 10,
    electionTimeoutTicksMax: options.electionTimeoutTicksMax ?? 20,
    heartbeatTicks: options.heartbeatTicks ?? 1,
    preVote: options.preVote ?? false,
    checkQuorum: options.checkQuorum ?? false,
    maxEntriesPerAppend: options.maxEntriesPerAppend ?? 64,
    maxInflightAppends: options.maxInflightAppends ?? 16,
    randomInt: seededRandomInt(seedOf(id)),
    ...(options.rules === undefined ? {} : { rules: options.rules })
  }
}

/** The term-0 AddNode entries a founding server's log starts with (see newRaft). */
export function bootstrapLog(peers: ReadonlyArray<NodeId>): Entry[] {
  return [...peers].sort().map((node, position) => ({
    term: 0,
    index: position + 1,
    command: { _tag: "ConfigChange", change: { _tag: "AddNode", node } }
  }))
}

/** Takes one Ready from a lone server and acknowledges it without doing anything else. */
export function drainReady(raft: Raft): Ready {
  const ready = raft.ready()
  raft.advance(ready)
  return ready
}

function link(from: NodeId, to: NodeId): string {
  return `${from}->${to}`
}

/**
 * Servers plus a message queue between them. Nothing moves unless a test says so: `tick`
 * advances clocks, `deliver` hands over queued messages, `stabilize` repeats until quiet.
 */
export class TestNetwork {
  readonly nodes = new Map<NodeId, Raft>()
  readonly storages = new Map<NodeId, MemoryStorage>()
  readonly stateMachines = new Map<NodeId, KvState>()
  /** The entries each server applied since it last (re)started, with the answers, in order. */
  readonly applied = new Map<NodeId, Array<{ entry: Entry; result: ApplyResult }>>()
  readonly readStates = new Map<NodeId, ReadState[]>()
  /** Messages sent and not yet delivered or dropped. */
  queue: Message[] = []
  /** Every message handed to the network, for tests that check what was sent. */
  readonly sent: Message[] = []
  /** Drops a message when it returns true (for message loss in tests). */
  dropIf: ((message: Message) => boolean) | null = null
  private readonly cut = new Set<string>()
  private readonly configs = new Map<NodeId, RaftConfig>()

  constructor(
    ids: ReadonlyArray<NodeId>,
    readonly options: TestOptions = {}
  ) {
    for (const id of ids) this.start(id, ids)
  }

  /** Starts a fresh server with `peers` as bootstrap voters (`[]` for one that joins later). */
  start(id: NodeId, peers: ReadonlyArray<NodeId>): Raft {
    const config = testConfig(id, peers, this.options)
    this.configs.set(id, config)
    this.storages.set(id, { hardState: { term: 0, votedFor: null, commitIndex: 0 }, snapshot: undefined, entries: [] })
    this.stateMachines.set(id, restore(null))
    this.applied.set(id, [])
    this.readStates.set(id, [])
    const raft = newRaft(config)
    this.nodes.set(id, raft)
    this.process(id)
    return raft
  }

  /** The live server `id`. */
  node(id: NodeId): Raft {
    const raft = this.nodes.get(id)
    assert(raft !== undefined, () => `${id} is not running`)
    return raft
  }

  storage(id: NodeId): MemoryStorage {
    const storage = this.storages.get(id)
    assert(storage !== undefined, () => `${id} has no storage`)
    return storage
  }

  stateMachine(id: NodeId): KvState {
    const state = this.stateMachines.get(id)
    assert(state !== undefined, () => `${id} has no state machine`)
    return state
  }

  /** Plays the shell for every pending Ready of `id`: persist, send, apply, advance. */
  process(id: NodeId): void {
    const raft = this.node(id)
    let rounds = 0
    while (raft.hasReady()) {
      rounds++
      assert(rounds < 1000, () => `${id} keeps producing Ready`)
      const ready = raft.ready()
      this.persist(id, ready.snapshot, ready.truncateFrom, ready.entries)
      if (ready.hardState !== undefined) this.storage(id).hardState = ready.hardState
      for (const message of ready.messages) this.sent.push(message)
      this.queue.push(...ready.messages)
      if (ready.snapshot !== undefined) this.stateMachines.set(id, restore(ready.snapshot.data))
      for (const entry of ready.committedEntries) {
        const result = apply(this.stateMachine(id), entry)
        this.applied.get(id)?.push({ entry, result })
      }
      this.readStates.get(id)?.push(...ready.readStates)
      raft.advance(ready)
    }
  }

  private persist(
    id: NodeId,
    snapshot: Snapshot | undefined,
    truncateFrom: number | undefined,
    entries: ReadonlyArray<Entry>
  ): void {
    const storage = this.storage(id)
    if (snapshot !== undefined) {
      storage.snapshot = snapshot
      storage.entries = []
    }
    if (truncateFrom !== undefined) storage.entries = storage.entries.filter((entry) => entry.index < truncateFrom)
    for (const entry of entries) {
      const previous = storage.entries[storage.entries.length - 1]?.index ?? storage.snapshot?.lastIncludedIndex ?? 0
      assert(entry.index === previous + 1, () => `${id} persists entry ${entry.index} after ${previous}`)
      storage.entries.push(entry)
    }
  }

  processAll(): void {
    for (const id of this.nodes.keys()) this.process(id)
  }

  /** Whether a message from `from` to `to` would get through now. */
  connected(from: NodeId, to: NodeId): boolean {
    return this.nodes.has(to) && !this.cut.has(link(from, to))
  }

  /** Delivers every message queued so far (not those sent in response), then processes Readies. */
  deliver(filter: (message: Message) => boolean = () => true): void {
    const batch = this.queue
    this.queue = []
    for (const message of batch) {
      if (!filter(message)) {
        this.queue.push(message)
        continue
      }
      if (!this.connected(message.from, message.to)) continue
      if (this.dropIf?.(message) === true) continue
      this.node(message.to).step(message)
      this.process(message.to)
    }
    this.processAll()
  }

  /** Delivers messages until none are left. */
  stabilize(maxRounds = 1000): void {
    this.processAll()
    for (let round = 0; this.queue.length > 0; round++) {
      assert(round < maxRounds, "the network did not stabilize")
      this.deliver()
    }
  }

  /** Ticks `id` `times` times, processing its Ready after each tick (nothing is delivered). */
  tick(id: NodeId, times = 1): void {
    for (let i = 0; i < times; i++) {
      this.node(id).tick()
      this.process(id)
    }
  }

  /** Ticks every live server `times` times, delivering messages after each round of ticks. */
  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const id of this.nodes.keys()) this.tick(id)
      this.stabilize()
    }
  }

  /**
   * Lets leader `id` send one round of heartbeats and delivers everything that follows. A
   * follower learns a new commitIndex from the leader's next AppendEntries or heartbeat (§5.3).
   */
  heartbeat(id: NodeId): void {
    const leader = this.node(id)
    assert(leader.role === "Leader", () => `${id} is not the leader`)
    this.tick(id, this.configs.get(id)!.heartbeatTicks)
    this.stabilize()
  }

  /** Makes `id` campaign and runs the election to completion. */
  elect(id: NodeId): void {
    this.node(id).campaign()
    this.stabilize()
    assert(this.node(id).role === "Leader", () => `${id} did not become leader`)
  }

  /** Cuts every link between `left` and `right`, both ways. */
  partition(left: ReadonlyArray<NodeId>, right: ReadonlyArray<NodeId>): void {
    for (const a of left) {
      for (const b of right) {
        this.cut.add(link(a, b))
        this.cut.add(link(b, a))
      }
    }
  }

  /** Cuts `id` off from every other server. */
  isolate(id: NodeId): void {
    this.partition([id], [...this.configs.keys()].filter((other) => other !== id))
  }

  heal(): void {
    this.cut.clear()
  }

  /** Stops `id`; its storage survives, its memory and undelivered inbound messages do not. */
  crash(id: NodeId): void {
    this.nodes.delete(id)
    this.queue = this.queue.filter((message) => message.to !== id)
  }

  /** Restarts `id` from its storage, as the shell would after a crash. */
  restart(id: NodeId): Raft {
    const config = this.configs.get(id)
    assert(config !== undefined, () => `${id} was never started`)
    const storage = this.storage(id)
    const restored: RestoredState = {
      hardState: storage.hardState,
      ...(storage.snapshot === undefined ? {} : { snapshot: storage.snapshot }),
      entries: [...storage.entries]
    }
    const raft = newRaft(config, restored)
    this.nodes.set(id, raft)
    this.stateMachines.set(id, restore(storage.snapshot?.data ?? null))
    this.applied.set(id, [])
    this.process(id)
    return raft
  }

  /** Replaces `id`'s storage with `restored` and restarts it from there, to set up a scenario. */
  load(id: NodeId, restored: RestoredState): Raft {
    this.storages.set(id, {
      hardState: { ...restored.hardState, commitIndex: restored.hardState.commitIndex ?? 0 },
      snapshot: restored.snapshot,
      entries: [...restored.entries]
    })
    this.crash(id)
    return this.restart(id)
  }

  /**
   * Compacts `id`'s log up to its applied index, as the shell does: take the state machine's
   * snapshot, report it, persist it, and drop the covered entries from storage.
   */
  compact(id: NodeId): Snapshot {
    const raft = this.node(id)
    const state = this.stateMachine(id)
    assert(state.appliedIndex === raft.appliedIndex, "the state machine is behind the core")
    const snapshot = raft.reportSnapshotTaken(raft.appliedIndex, snapshotData(state))
    const storage = this.storage(id)
    storage.snapshot = snapshot
    storage.entries = storage.entries.filter((entry) => entry.index > snapshot.lastIncludedIndex)
    return snapshot
  }

  /** The live leaders, highest term first. */
  leaders(): Raft[] {
    return [...this.nodes.values()].filter((raft) => raft.role === "Leader").sort((a, b) => b.term - a.term)
  }
}
