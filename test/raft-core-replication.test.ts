// Paper-style tests of log replication (§5.3), commitment (§5.4.2, Figure 8) and the ordering
// contract of Ready (persist, then send, then apply), in the manner of etcd's raft_paper_test.go.
import { describe, expect, it } from "vitest"
import {
  newRaft,
  type AppendEntries,
  type AppendEntriesResponse,
  type Command,
  type Entry,
  type Message
} from "../src/protocols/raft/index.ts"
import {
  TestNetwork,
  bootstrapLog,
  drainReady,
  seededRandomInt,
  testConfig
} from "../src/protocols/raft/testing.ts"

const abc = ["a", "b", "c"]

function put(key: string, value: number, sequence = value): Command {
  return { _tag: "Kv", clientId: "client", sequence, operation: { _tag: "Put", key, value } }
}

function noops(term: number, from: number, count: number): Entry[] {
  return Array.from({ length: count }, (_, offset) => ({ term, index: from + offset, command: { _tag: "Noop" } }))
}

function appendEntries(fields: Omit<AppendEntries, "_tag" | "from" | "to" | "leaderCommit"> & { leaderCommit?: number }): AppendEntries {
  return { _tag: "AppendEntries", from: "b", to: "a", leaderCommit: 0, ...fields }
}

function responses(messages: ReadonlyArray<Message>): AppendEntriesResponse[] {
  return messages.filter((message): message is AppendEntriesResponse => message._tag === "AppendEntriesResponse")
}

/** A follower "a" of a three-server cluster whose log is the bootstrap plus `extra`. */
function followerWith(extra: Entry[], term: number) {
  const raft = newRaft(testConfig("a", abc), {
    hardState: { term, votedFor: null, commitIndex: 3 },
    entries: [...bootstrapLog(abc), ...extra]
  })
  drainReady(raft)
  return raft
}

describe("§5.3 log replication", () => {
  it("a new leader appends a Noop of its term before anything else", () => {
    // Reference: §5.4.2 and thesis §6.4: "each leader commit a blank no-op entry into the log
    // at the start of its term".
    // Set up and act.
    const net = new TestNetwork(abc)
    net.elect("a")

    // Check: the Noop is index 4 (after the three bootstrap entries) and committed on the leader;
    // the followers learn the commit by the next heartbeat at the latest (§5.3).
    expect(net.node("a").entries(4, 5)).toEqual([{ term: 1, index: 4, command: { _tag: "Noop" } }])
    expect(net.node("a").commitIndex).toBe(4)
    net.heartbeat("a")
    for (const id of abc) expect(net.node(id).commitIndex).toBe(4)
  })

  it("the leader appends a proposal to its log and sends it to every follower", () => {
    // Reference: §5.3 "The leader appends the command to its log as a new entry, then issues
    // AppendEntries RPCs in parallel to each of the other servers to replicate the entry."
    // Set up.
    const net = new TestNetwork(abc)
    net.elect("a")

    // Act.
    const result = net.node("a").propose(put("x", 1))
    net.process("a")

    // Check.
    expect(result).toEqual({ _tag: "Accepted", index: 5, term: 1 })
    const entry = { term: 1, index: 5, command: put("x", 1) }
    expect(net.queue).toEqual([
      { _tag: "AppendEntries", from: "a", to: "b", term: 1, prevLogIndex: 4, prevLogTerm: 1, entries: [entry], leaderCommit: 4 },
      { _tag: "AppendEntries", from: "a", to: "c", term: 1, prevLogIndex: 4, prevLogTerm: 1, entries: [entry], leaderCommit: 4 }
    ])
  })

  it("an entry commits once a majority stores it, and every server applies it in log order", () => {
    // Reference: §5.3 "A log entry is committed once the leader that created the entry has
    // replicated it on a majority of the servers"; "Once a follower learns that a log entry is
    // committed, it applies the entry to its local state machine (in log order)."
    // Set up: c is cut off, b is not.
    const net = new TestNetwork(abc)
    net.elect("a")
    net.isolate("c")

    // Act: propose while only a and b can store it.
    net.node("a").propose(put("x", 1))
    net.stabilize()
    net.heartbeat("a")
    const committedWithoutC = net.node("a").commitIndex

    // Check: committed with two of three; c catches up after the partition heals.
    expect(committedWithoutC).toBe(5)
    expect(net.node("b").commitIndex).toBe(5)
    expect(net.node("c").commitIndex).toBe(4)
    net.heal()
    net.tickAll(3)
    for (const id of abc) {
      expect(net.node(id).commitIndex).toBe(5)
      expect(net.applied.get(id)?.map(({ entry }) => entry.index)).toEqual([1, 2, 3, 4, 5])
      expect(net.stateMachine(id).values.get("x")).toBe(1)
    }
  })

  it("a leader without a majority does not commit", () => {
    // Reference: §5.3 (as above): fewer than a majority of replicas is not enough.
    // Set up.
    const net = new TestNetwork(abc)
    net.elect("a")
    net.isolate("a")

    // Act.
    net.node("a").propose(put("x", 1))
    net.tickAll(5)

    // Check.
    expect(net.node("a").lastIndex).toBe(5)
    expect(net.node("a").commitIndex).toBe(4)
  })

  it("a follower refuses entries when its log has no entry matching prevLogIndex and prevLogTerm", () => {
    // Reference: §5.3 "If the follower does not find an entry in its log with the same index
    // and term, then it refuses the new entries."
    // Set up: a follower whose log ends with two entries of term 1.
    const raft = followerWith(noops(1, 4, 2), 2)

    // Act: the leader of term 3 thinks index 5 has term 2; then it probes past the end.
    raft.step(appendEntries({ term: 3, prevLogIndex: 5, prevLogTerm: 2, entries: noops(3, 6, 1) }))
    raft.step(appendEntries({ term: 3, prevLogIndex: 9, prevLogTerm: 3, entries: [] }))
    const ready = drainReady(raft)

    // Check: nothing appended; each rejection carries the back-off hint.
    expect(raft.lastIndex).toBe(5)
    expect(ready.entries).toEqual([])
    expect(responses(ready.messages).map(({ success, rejectedIndex, conflictIndex, conflictTerm }) => ({
      success, rejectedIndex, conflictIndex, conflictTerm
    }))).toEqual([
      { success: false, rejectedIndex: 5, conflictIndex: 5, conflictTerm: 1 },
      { success: false, rejectedIndex: 9, conflictIndex: 5, conflictTerm: 1 }
    ])
  })

  it("a follower deletes a conflicting suffix and takes the leader's entries", () => {
    // Reference: §5.3 "If an existing entry conflicts with a new one (same index but different
    // terms), delete the existing entry and all that follow it" (Figure 2, rule 3).
    // Set up: entries 4..6 of term 1, only 4 of which the new leader shares.
    const raft = followerWith(noops(1, 4, 3), 1)

    // Act.
    raft.step(appendEntries({ term: 2, prevLogIndex: 4, prevLogTerm: 1, entries: noops(2, 5, 1), leaderCommit: 5 }))
    const ready = drainReady(raft)

    // Check: the shell is told to drop stored entries from 5 on, then store the new 5.
    expect(raft.lastIndex).toBe(5)
    expect(raft.termAt(5)).toBe(2)
    expect(ready.truncateFrom).toBe(5)
    expect(ready.entries).toEqual(noops(2, 5, 1))
    expect(ready.hardState).toEqual({ term: 2, votedFor: null, commitIndex: 5 })
    expect(responses(ready.messages)[0]).toMatchObject({ success: true, matchIndex: 5 })
  })

  it("a follower commits only up to the last entry it knows matches the leader", () => {
    // Reference: Figure 2, AppendEntries rule 5: "If leaderCommit > commitIndex, set
    // commitIndex = min(leaderCommit, index of last new entry)".
    // Set up: the follower's entry 6 is from an old term; the leader's 6 (committed) differs.
    const raft = followerWith(noops(1, 4, 3), 1)

    // Act: the leader sends only entry 5 (say, one entry per message) with leaderCommit 6.
    raft.step(appendEntries({ term: 2, prevLogIndex: 4, prevLogTerm: 1, entries: noops(1, 5, 1), leaderCommit: 6 }))
    const ready = drainReady(raft)

    // Check: the unverified entry 6 is not committed or applied.
    expect(raft.commitIndex).toBe(5)
    expect(ready.committedEntries.map((entry) => entry.index)).toEqual([4, 5])
  })

  it("a stale or duplicated AppendEntries whose entries already match truncates nothing", () => {
    // Reference: §5.3 / Figure 2 rule 3 deletes only on a *conflict*; entries that match stay,
    // or a delayed request could erase entries the follower already acknowledged.
    // Set up: the follower holds 4..6 of term 1 and has acknowledged 6.
    const raft = followerWith([], 1)
    raft.step(appendEntries({ term: 1, prevLogIndex: 3, prevLogTerm: 0, entries: noops(1, 4, 3) }))
    drainReady(raft)

    // Act: an older request carrying only entry 4 arrives late, twice.
    raft.step(appendEntries({ term: 1, prevLogIndex: 3, prevLogTerm: 0, entries: noops(1, 4, 1) }))
    raft.step(appendEntries({ term: 1, prevLogIndex: 3, prevLogTerm: 0, entries: noops(1, 4, 1) }))
    const ready = drainReady(raft)

    // Check: 5 and 6 are still there and nothing is rewritten.
    expect(raft.lastIndex).toBe(6)
    expect(ready.entries).toEqual([])
    expect(ready.truncateFrom).toBeUndefined()
    expect(responses(ready.messages).map((response) => response.matchIndex)).toEqual([4, 4])
  })

  it("fast back-off finds the divergence point in a round trip per term, not per entry", () => {
    // Reference: §5.3 "the follower can include the term of the conflicting entry and the first
    // index it stores for that term ... one AppendEntries RPC will be required for each term
    // with conflicting entries, rather than one RPC per entry" (etcd's rejectHint variant).
    // Set up: a and b share 50 entries of term 1 and 50 of term 3; c has 100 divergent entries
    // of term 2 after the first 50; d has only the bootstrap entries.
    const ids = ["a", "b", "c", "d", "e"]
    const net = new TestNetwork(ids)
    const shared = [...bootstrapLog(ids), ...noops(1, 6, 50)]
    const leaderLog = [...shared, ...noops(3, 56, 50)]
    for (const id of ["a", "b", "e"]) net.load(id, { hardState: { term: 3, votedFor: null, commitIndex: 5 }, entries: leaderLog })
    net.load("c", { hardState: { term: 3, votedFor: null, commitIndex: 5 }, entries: [...shared, ...noops(2, 56, 100)] })
    net.load("d", { hardState: { term: 3, votedFor: null, commitIndex: 5 }, entries: bootstrapLog(ids) })

    // Act.
    net.elect("a")
    net.stabilize()

    // Check: one rejection each, then the logs agree.
    const rejections = (from: string) =>
      net.sent.filter((message) => message._tag === "AppendEntriesResponse" && message.from === from && !message.success)
    expect(rejections("c")).toHaveLength(1)
    expect(rejections("d")).toHaveLength(1)
    const leader = net.node("a")
    for (const id of ids) {
      expect(net.node(id).lastIndex).toBe(leader.lastIndex)
      expect(net.node(id).entries(1, leader.lastIndex + 1)).toEqual(leader.entries(1, leader.lastIndex + 1))
    }
  })

  it("replication survives lost messages and converges once the network is reliable", () => {
    // Reference: §5.3 "If followers crash or run slowly, or if network packets are lost, the
    // leader retries AppendEntries RPCs indefinitely ... until all followers eventually store
    // all log entries."
    // Set up: a lossy network.
    const net = new TestNetwork(["a", "b", "c", "d", "e"], { maxInflightAppends: 4, maxEntriesPerAppend: 3 })
    net.elect("a")
    const chance = seededRandomInt(7)
    net.dropIf = () => chance(10) < 3

    // Act: proposals while 30% of messages vanish, then a quiet period without loss.
    for (let value = 1; value <= 30; value++) {
      net.node("a").propose(put("x", value))
      net.tickAll(1)
    }
    net.dropIf = null
    net.tickAll(10)

    // Check: unless a new leader emerged meanwhile, everyone holds the same committed log.
    const leader = net.leaders()[0]!
    for (const raft of net.nodes.values()) {
      expect(raft.commitIndex).toBe(leader.commitIndex)
      expect(raft.entries(1, raft.lastIndex + 1)).toEqual(leader.entries(1, leader.lastIndex + 1))
    }
    const applied = net.applied.get("a")!.map(({ entry }) => entry)
    for (const id of net.nodes.keys()) expect(net.applied.get(id)!.map(({ entry }) => entry)).toEqual(applied)
  })

  it("followers learn a new commitIndex from the next heartbeat, not from a round of its own", () => {
    // Reference: §5.3 "The leader keeps track of the highest index it knows to be committed, and
    // it includes that index in future AppendEntries RPCs (including heartbeats) so that the
    // other servers eventually find out."
    // Set up: a leads, and everyone knows the Noop is committed.
    const net = new TestNetwork(abc)
    net.elect("a")
    net.heartbeat("a")
    const sentBefore = net.sent.length

    // Act: one proposal, delivered until the network is quiet.
    net.node("a").propose(put("x", 1))
    net.stabilize()

    // Check: one AppendEntries per follower, carrying the entry, and no second round to tell
    // them it committed; they learn it from the heartbeat.
    const appends = net.sent.slice(sentBefore).filter((message) => message._tag === "AppendEntries")
    expect(appends.map((message) => [message.to, message.entries.length])).toEqual([["b", 1], ["c", 1]])
    expect(net.node("a").commitIndex).toBe(5)
    for (const id of ["b", "c"]) expect(net.node(id).commitIndex).toBe(4)
    net.heartbeat("a")
    for (const id of ["b", "c"]) expect(net.node(id).commitIndex).toBe(5)
  })

  it("the leader keeps at most maxInflightAppends unacknowledged AppendEntries per follower", () => {
    // Reference: etcd's flow control (tracker.Inflights); the thesis §10.2.2 pipelining needs a bound.
    // Set up: b and c are replicating; nothing is delivered while proposals pile up.
    const net = new TestNetwork(abc, { maxInflightAppends: 2, maxEntriesPerAppend: 1 })
    net.elect("a")

    // Act.
    for (let value = 1; value <= 10; value++) net.node("a").propose(put("x", value))
    net.process("a")
    const toB = net.queue.filter((message) => message._tag === "AppendEntries" && message.to === "b")
    net.stabilize()

    // Check: two in flight at first, all ten replicated in the end.
    expect(toB).toHaveLength(2)
    expect(net.node("b").lastIndex).toBe(14)
    net.heartbeat("a")
    expect(net.node("b").commitIndex).toBe(14)
  })
})

describe("§5.4.2 committing entries from previous terms (Figure 8)", () => {
  // Servers s1..s5. Their bootstrap entries are 1..5; the figure's index 2 is index 6 here.
  const ids = ["s1", "s2", "s3", "s4", "s5"]
  const term2 = { term: 2, index: 6, command: { _tag: "Noop" } } as const
  const term3 = { term: 3, index: 6, command: { _tag: "Noop" } } as const

  /** s5 campaigns twice: in term 4 its peers have already voted for s1, in term 5 they have not. */
  function campaignS5(net: TestNetwork): void {
    for (let attempt = 0; attempt < 2 && net.node("s5").role !== "Leader"; attempt++) {
      net.node("s5").campaign()
      net.stabilize()
    }
  }

  /** Figure 8 (c): s1 leads term 4, and its term-2 entry is on s1, s2, s3 but uncommitted. */
  function figure8c() {
    const net = new TestNetwork(ids, { maxEntriesPerAppend: 1 })
    const hardState = { term: 3, votedFor: null, commitIndex: 5 }
    net.load("s1", { hardState, entries: [...bootstrapLog(ids), term2] })
    net.load("s2", { hardState, entries: [...bootstrapLog(ids), term2] })
    net.load("s3", { hardState, entries: bootstrapLog(ids) })
    net.load("s4", { hardState, entries: bootstrapLog(ids) })
    net.load("s5", { hardState, entries: [...bootstrapLog(ids), term3] })
    net.partition(["s1", "s2", "s3"], ["s4", "s5"])
    // The term-4 entry reaches nobody who could accept it.
    net.dropIf = (message) =>
      message._tag === "AppendEntries" &&
      message.entries.some((entry) => entry.term === 4) &&
      net.node(message.to).termAt(6) === 2
    net.elect("s1")
    net.stabilize()
    return net
  }

  it("a leader does not commit an earlier term's entry by counting its replicas", () => {
    // Reference: §5.4.2 "Raft never commits log entries from previous terms by counting
    // replicas. Only log entries from the leader's current term are committed by counting".
    // Set up and act.
    const net = figure8c()

    // Check: index 6 (term 2) is on a majority, yet not committed.
    for (const id of ["s1", "s2", "s3"]) expect(net.node(id).termAt(6)).toBe(2)
    expect(net.node("s1").term).toBe(4)
    expect(net.node("s1").commitIndex).toBe(5)
  })

  it("such an entry may still be overwritten, which is why it was not committed", () => {
    // Reference: §5.4.2, Figure 8 (d): "If S1 crashes, S5 could be elected leader ... and
    // overwrite the entry with its own entry from term 3."
    // Set up.
    const net = figure8c()
    net.dropIf = null

    // Act.
    net.crash("s1")
    net.heal()
    campaignS5(net)

    // Check.
    expect(net.node("s5").role).toBe("Leader")
    expect(net.node("s5").term).toBe(5)
    expect(net.node("s2").termAt(6)).toBe(3)
    expect(net.node("s3").termAt(6)).toBe(3)
  })

  it("once an entry of the current term is on a majority, it and every earlier entry commit", () => {
    // Reference: §5.4.2, Figure 8 (e): "once an entry from the current term has been committed
    // in this way, then all prior entries are committed indirectly".
    // Set up.
    const net = figure8c()

    // Act: the term-4 Noop now gets through.
    net.dropIf = null
    net.tick("s1")
    net.stabilize()

    // Check: committed, and s5 can no longer win an election.
    expect(net.node("s1").commitIndex).toBe(7)
    net.crash("s1")
    net.heal()
    campaignS5(net)
    expect(net.node("s5").term).toBe(5)
    expect(net.node("s5").role).not.toBe("Leader")
    expect(net.node("s2").termAt(6)).toBe(2)
  })
})

describe("Ready ordering (persist before send, etcd's RawNode contract)", () => {
  it("a leader counts its own entries only after the shell has persisted them", () => {
    // Reference: §5.3 / thesis §10.2.1: the leader may send before writing, but its own vote
    // towards a majority counts only once the entry is durable.
    // Set up: a one-server cluster.
    const raft = newRaft(testConfig("a", ["a"]))
    drainReady(raft)

    // Act.
    raft.campaign()
    const first = raft.ready()
    const commitBeforeAdvance = raft.commitIndex
    raft.advance(first)
    const second = drainReady(raft)

    // Check: the Noop is persisted in the first Ready and committed only in the second.
    expect(raft.role).toBe("Leader")
    expect(first.entries).toEqual([{ term: 1, index: 2, command: { _tag: "Noop" } }])
    expect(first.committedEntries).toEqual([])
    expect(commitBeforeAdvance).toBe(1)
    expect(second.committedEntries).toEqual([{ term: 1, index: 2, command: { _tag: "Noop" } }])
    expect(second.hardState?.commitIndex).toBe(2)
  })

  it("a follower's acknowledgement comes in the same Ready as the entries it acknowledges", () => {
    // Reference: Figure 2 "Persistent state ... updated on stable storage before responding to
    // RPCs": the shell persists `entries` and `hardState` before it sends `messages`.
    // Set up.
    const raft = followerWith([], 1)

    // Act.
    raft.step(appendEntries({ term: 1, prevLogIndex: 3, prevLogTerm: 0, entries: noops(1, 4, 2), leaderCommit: 5 }))
    const ready = raft.ready()

    // Check.
    expect(ready.entries).toEqual(noops(1, 4, 2))
    expect(ready.committedEntries.map((entry) => entry.index)).toEqual([4, 5])
    expect(responses(ready.messages)).toEqual([
      { _tag: "AppendEntriesResponse", from: "a", to: "b", term: 1, success: true, matchIndex: 5 }
    ])
    expect(() => raft.ready()).toThrow(/before advance/)
    raft.advance(ready)
    expect(raft.hasReady()).toBe(false)
  })

  it("every message is plain JSON data", () => {
    // Reference: the wire contract: messages are JSON-encoded between real nodes.
    // Set up and act: an election, replication, a snapshot and a read produce every kind.
    const net = new TestNetwork(abc, { preVote: true })
    net.elect("a")
    net.node("a").propose(put("x", 1))
    net.node("a").readIndex("r1")
    net.stabilize()

    // Check.
    for (const message of net.sent) expect(JSON.parse(JSON.stringify(message))).toEqual(message)
  })
})
