// Paper-style tests of the features around the core algorithm: log compaction and
// InstallSnapshot (§7), single-server membership changes (thesis §4.1), leadership transfer
// (thesis §3.10), ReadIndex (thesis §6.4), and restarting from stable storage (Figure 2).
import { describe, expect, it } from "vitest"
import { newRaft, type Command, type Message } from "../src/protocols/raft/index.ts"
import { TestNetwork, bootstrapLog, drainReady, testConfig } from "../src/protocols/raft/testing.ts"

const abc = ["a", "b", "c"]

function put(key: string, value: number): Command {
  return { _tag: "Kv", clientId: "client", sequence: value, operation: { _tag: "Put", key, value } }
}

function sentTo(net: TestNetwork, to: string, tag: Message["_tag"]): Message[] {
  return net.sent.filter((message) => message.to === to && message._tag === tag)
}

describe("§7 log compaction and InstallSnapshot", () => {
  it("a follower behind the leader's compacted log is brought up to date with a snapshot", () => {
    // Reference: §7 "the leader must occasionally send snapshots to followers that lag behind
    // ... when the leader has already discarded the next log entry that it needs to send".
    // Set up: c misses ten writes, then the leader compacts them away.
    const net = new TestNetwork(abc)
    net.elect("a")
    net.isolate("c")
    for (let value = 1; value <= 10; value++) net.node("a").propose(put(`k${value}`, value))
    net.stabilize()
    const snapshot = net.compact("a")
    expect(snapshot.lastIncludedIndex).toBe(14)
    expect(net.node("a").firstIndex).toBe(15)

    // Act.
    net.heal()
    net.node("a").propose(put("after", 11))
    net.tickAll(3)

    // Check: c got the snapshot, restored the state machine from it, then the newer entry.
    expect(sentTo(net, "c", "InstallSnapshot")).toHaveLength(1)
    const c = net.node("c")
    expect(c.snapshot().lastIncludedIndex).toBe(14)
    expect(c.snapshot().configuration).toEqual({ voters: ["a", "b", "c"] })
    expect(c.commitIndex).toBe(15)
    expect(net.storage("c").snapshot?.lastIncludedIndex).toBe(14)
    expect(net.storage("c").entries.map((entry) => entry.index)).toEqual([15])
    expect(net.stateMachine("c").values).toEqual(net.stateMachine("a").values)
    expect(net.stateMachine("c").values.get("k7")).toBe(7)
  })

  it("a follower that already holds the snapshot's last entry keeps the entries after it", () => {
    // Reference: §7 "If instead the follower receives a snapshot that describes a prefix of its
    // log ..., then log entries covered by the snapshot are deleted but entries following the
    // snapshot are still valid and must be retained."
    // Set up: a follower with entries 4..6 of term 1.
    const raft = newRaft(testConfig("a", abc), {
      hardState: { term: 1, votedFor: null, commitIndex: 3 },
      entries: [...bootstrapLog(abc), ...[4, 5, 6].map((index) => ({ term: 1, index, command: { _tag: "Noop" } as const }))]
    })
    drainReady(raft)

    // Act.
    raft.step({
      _tag: "InstallSnapshot", from: "b", to: "a", term: 1,
      snapshot: { lastIncludedIndex: 5, lastIncludedTerm: 1, configuration: { voters: abc }, data: null }
    })
    const ready = drainReady(raft)

    // Check: nothing to install, entry 6 kept, commitIndex moved to 5.
    expect(ready.snapshot).toBeUndefined()
    expect(raft.lastIndex).toBe(6)
    expect(raft.commitIndex).toBe(5)
    expect(ready.messages).toEqual([{ _tag: "InstallSnapshotResponse", from: "a", to: "b", term: 1, matchIndex: 5 }])
  })

  it("a lost snapshot is sent again", () => {
    // Reference: §7 with §5.3's "retries indefinitely": InstallSnapshot may be lost too.
    // Set up.
    const net = new TestNetwork(abc)
    net.elect("a")
    net.isolate("c")
    net.node("a").propose(put("x", 1))
    net.stabilize()
    net.compact("a")
    net.heal()
    let dropped = 0
    net.dropIf = (message) => message._tag === "InstallSnapshot" && dropped++ === 0

    // Act.
    net.tickAll(30)

    // Check.
    expect(sentTo(net, "c", "InstallSnapshot")).toHaveLength(2)
    expect(net.node("c").commitIndex).toBe(net.node("a").commitIndex)
  })
})

describe("thesis §4.1 single-server membership changes", () => {
  it("a removal that shrinks the quorum enough to commit is still sent to the followers at once", () => {
    // Reference: thesis §4.1 "the leader ... appends Cnew to its log and replicates it". Set up:
    // four voters; n3 and n4 hear nothing, so an entry stays uncommitted on n1 and n2 only.
    const net = new TestNetwork(["n1", "n2", "n3", "n4"])
    net.elect("n1")
    net.dropIf = (message) => message.to === "n3" || message.to === "n4"
    net.node("n1").propose(put("k", 1))
    net.stabilize()
    const uncommitted = net.node("n1").lastIndex
    expect(net.node("n1").commitIndex).toBeLessThan(uncommitted)

    // Act: removing n4 leaves three voters, of which n1 and n2 are a majority.
    const result = net.node("n1").proposeConfigChange({ _tag: "RemoveNode", node: "n4" })
    net.process("n1")

    // Check: the earlier entry commits, and the change goes out to n2 right away.
    expect(result._tag).toBe("Accepted")
    expect(net.node("n1").commitIndex).toBeGreaterThanOrEqual(uncommitted)
    const toN2 = net.queue.filter((message) => message._tag === "AppendEntries" && message.to === "n2")
    expect(toN2.flatMap((message) => (message._tag === "AppendEntries" ? message.entries : [])).map((entry) => entry.command._tag)).toContain("ConfigChange")
  })

  it("a new server joins with an empty log, learns the configuration, and then counts", () => {
    // Reference: thesis §4.1 "the leader ... appends Cnew to its log"; §4.2.1 new servers catch
    // up from the leader's log. Here the founding configuration is in the log too.
    // Set up: d starts with no configuration at all.
    const net = new TestNetwork(abc)
    net.elect("a")
    const d = net.start("d", [])
    net.tick("d", 50)
    expect(d.role).toBe("Follower")
    expect(d.term).toBe(0)

    // Act.
    const result = net.node("a").proposeConfigChange({ _tag: "AddNode", node: "d" })
    const votersRightAway = net.node("a").configuration.voters
    net.stabilize()
    net.heartbeat("a")

    // Check.
    expect(result).toEqual({ _tag: "Accepted", index: 5, term: 1 })
    expect(votersRightAway).toEqual(["a", "b", "c", "d"])
    for (const id of ["a", "b", "c", "d"]) {
      expect(net.node(id).configuration.voters).toEqual(["a", "b", "c", "d"])
      expect(net.node(id).commitIndex).toBe(5)
    }
    // With four voters, a and b alone (two of four) no longer commit.
    net.partition(["a", "b"], ["c", "d"])
    net.node("a").propose(put("x", 1))
    net.tickAll(3)
    expect(net.node("a").commitIndex).toBe(5)
  })

  it("a server joining after compaction learns the configuration from the snapshot", () => {
    // Reference: §7 "the snapshot also includes ... the latest configuration as of the last
    // included index"; thesis §4.1.
    // Set up.
    const net = new TestNetwork(abc)
    net.elect("a")
    net.node("a").propose(put("x", 1))
    net.stabilize()
    net.compact("a")
    net.start("d", [])

    // Act.
    net.node("a").proposeConfigChange({ _tag: "AddNode", node: "d" })
    net.stabilize()
    net.tickAll(3)

    // Check.
    expect(sentTo(net, "d", "InstallSnapshot")).toHaveLength(1)
    expect(net.node("d").configuration.voters).toEqual(["a", "b", "c", "d"])
    expect(net.stateMachine("d").values.get("x")).toBe(1)
  })

  it("a configuration takes effect on append, and a truncated change is undone", () => {
    // Reference: thesis §4.1 "a server always uses the latest configuration in its log,
    // regardless of whether the entry is committed" and "if a configuration change entry is
    // removed from the log, it must revert to the previous configuration".
    // Set up.
    const raft = newRaft(testConfig("a", abc), { hardState: { term: 1, votedFor: null, commitIndex: 3 }, entries: bootstrapLog(abc) })
    drainReady(raft)

    // Act: an uncommitted AddNode d arrives, then a new leader overwrites it.
    raft.step({
      _tag: "AppendEntries", from: "b", to: "a", term: 1, prevLogIndex: 3, prevLogTerm: 0, leaderCommit: 3,
      entries: [{ term: 1, index: 4, command: { _tag: "ConfigChange", change: { _tag: "AddNode", node: "d" } } }]
    })
    const afterAppend = raft.configuration.voters
    raft.step({
      _tag: "AppendEntries", from: "c", to: "a", term: 2, prevLogIndex: 3, prevLogTerm: 0, leaderCommit: 3,
      entries: [{ term: 2, index: 4, command: { _tag: "Noop" } }]
    })

    // Check.
    expect(afterAppend).toEqual(["a", "b", "c", "d"])
    expect(raft.configuration.voters).toEqual(["a", "b", "c"])
  })

  it("a leader allows one uncommitted change at a time, and none before it commits in its term", () => {
    // Reference: thesis §4.1 "a leader ... must wait for a configuration change to commit before
    // beginning the next one"; Ongaro's 2015 correction: "a leader may not append a new
    // configuration entry until it has committed an entry from its current term".
    // Set up: a fresh leader whose Noop has not committed yet.
    const raft = newRaft(testConfig("a", abc))
    drainReady(raft)
    raft.campaign()
    raft.step({ _tag: "RequestVoteResponse", from: "b", to: "a", term: 1, preVote: false, voteGranted: true })
    drainReady(raft)
    expect(raft.role).toBe("Leader")

    // Act and check: too early.
    expect(raft.proposeConfigChange({ _tag: "AddNode", node: "d" })).toEqual({ _tag: "Rejected", reason: "NoCommitInTerm" })

    // Act: the Noop commits, a change is appended, a second one is attempted.
    raft.step({ _tag: "AppendEntriesResponse", from: "b", to: "a", term: 1, success: true, matchIndex: 4 })
    drainReady(raft)
    const first = raft.proposeConfigChange({ _tag: "AddNode", node: "d" })
    const second = raft.proposeConfigChange({ _tag: "AddNode", node: "e" })

    // Check.
    expect(raft.commitIndex).toBe(4)
    expect(first).toEqual({ _tag: "Accepted", index: 5, term: 1 })
    expect(second).toEqual({ _tag: "Rejected", reason: "ConfigChangeInProgress" })
    expect(raft.proposeConfigChange({ _tag: "RemoveNode", node: "z" })).toEqual({ _tag: "Rejected", reason: "ConfigChangeInProgress" })
  })

  it("a removed follower no longer receives entries and no longer counts", () => {
    // Reference: thesis §4.1 Cnew governs the leader's majorities as soon as it is appended.
    // Set up.
    const net = new TestNetwork(abc)
    net.elect("a")

    // Act.
    const result = net.node("a").proposeConfigChange({ _tag: "RemoveNode", node: "c" })
    net.stabilize()
    const sentToCBefore = net.sent.filter((message) => message.to === "c").length
    net.node("a").propose(put("x", 1))
    net.tickAll(3)

    // Check.
    expect(result).toEqual({ _tag: "Accepted", index: 5, term: 1 })
    expect(net.node("a").configuration.voters).toEqual(["a", "b"])
    expect(net.node("a").commitIndex).toBe(6)
    expect(net.sent.filter((message) => message.to === "c")).toHaveLength(sentToCBefore)
    expect([...net.node("a").progress().keys()]).toEqual(["a", "b"])
  })

  it("a leader that removes itself steps down once the change commits, and does not campaign", () => {
    // Reference: thesis §4.2.2 "the leader steps down ... once the Cnew entry is committed";
    // until then it "manages a cluster that does not include itself".
    // Set up.
    const net = new TestNetwork(abc)
    net.elect("a")

    // Act.
    net.node("a").proposeConfigChange({ _tag: "RemoveNode", node: "a" })
    const roleBeforeCommit = net.node("a").role
    net.stabilize()
    const roleAfterCommit = net.node("a").role
    net.tickAll(60)

    // Check: b or c took over; a stays a follower with no vote in the configuration.
    expect(roleBeforeCommit).toBe("Leader")
    expect(roleAfterCommit).toBe("Follower")
    const leaders = net.leaders()
    expect(leaders).toHaveLength(1)
    expect(["b", "c"]).toContain(leaders[0]!.id)
    expect(net.node("a").role).toBe("Follower")
    expect(leaders[0]!.configuration.voters).toEqual(["b", "c"])
  })
})

describe("thesis §3.10 leadership transfer", () => {
  it("the target takes over at once, despite the lease the others hold", () => {
    // Reference: thesis §3.10 "the prior leader sends a TimeoutNow request to the target
    // server. This request has the same effect as the target server's election timer firing".
    // Set up: leases are on, so an ordinary candidate would be ignored.
    const net = new TestNetwork(abc, { checkQuorum: true, preVote: true })
    net.elect("a")

    // Act.
    const result = net.node("a").transferLeadership("b")
    net.stabilize()

    // Check.
    expect(result).toEqual({ _tag: "Accepted" })
    expect(sentTo(net, "b", "TimeoutNow")).toHaveLength(1)
    expect(net.node("b").role).toBe("Leader")
    expect(net.node("b").term).toBe(2)
    expect(net.node("a").role).toBe("Follower")
    expect(net.node("a").leader).toBe("b")
  })

  it("the leader stops taking proposals and brings a lagging target up to date first", () => {
    // Reference: thesis §3.10 "1. The prior leader stops accepting new client requests. 2. The
    // prior leader fully updates the target server's log to match its own".
    // Set up: c misses three entries.
    const net = new TestNetwork(abc)
    net.elect("a")
    net.isolate("c")
    for (let value = 1; value <= 3; value++) net.node("a").propose(put("x", value))
    net.stabilize()

    // Act.
    net.node("a").transferLeadership("c")
    const duringTransfer = net.node("a").propose(put("x", 4))
    net.heal()
    net.tickAll(2)

    // Check.
    expect(duringTransfer).toEqual({ _tag: "Rejected", reason: "TransferInProgress" })
    expect(net.node("c").role).toBe("Leader")
    expect(net.node("c").termAt(7)).toBe(1)
    expect(net.node("a").propose(put("x", 4))).toEqual({ _tag: "NotLeader", leaderHint: "c" })
  })

  it("a transfer that cannot finish within an election timeout is abandoned", () => {
    // Reference: thesis §3.10 "if the transfer does not complete after about one election
    // timeout, the prior leader aborts the transfer and resumes accepting client requests".
    // Set up.
    const net = new TestNetwork(abc)
    net.elect("a")
    net.isolate("c")

    // Act.
    net.node("a").transferLeadership("c")
    net.tickAll(10)

    // Check.
    expect(net.node("a").role).toBe("Leader")
    expect(net.node("a").propose(put("x", 1))).toMatchObject({ _tag: "Accepted" })
  })
})

describe("thesis §6.4 ReadIndex", () => {
  it("a new leader serves reads only after committing an entry of its term and hearing from a majority", () => {
    // Reference: thesis §6.4 "If the leader has not yet marked an entry from its current term
    // committed, it waits until it has done so" and "the leader needs to make sure it hasn't
    // been superseded ... it sends a new round of heartbeats and waits for their
    // acknowledgments from a majority of the cluster".
    // Set up: a wins its election, but its Noop has not been sent on yet.
    const net = new TestNetwork(abc)
    net.node("a").campaign()
    net.process("a")
    for (let round = 0; round < 2; round++) {
      net.deliver((message) => message._tag === "RequestVote" || message._tag === "RequestVoteResponse")
    }
    expect(net.node("a").role).toBe("Leader")

    // Act.
    const result = net.node("a").readIndex("r1")
    net.process("a")
    const heartbeatsBeforeCommit = net.queue.filter((message) => message._tag === "Heartbeat").length
    const readsBeforeCommit = [...net.readStates.get("a")!]
    net.stabilize()

    // Check.
    expect(result).toEqual({ _tag: "Accepted" })
    expect(heartbeatsBeforeCommit).toBe(0)
    expect(readsBeforeCommit).toEqual([])
    expect(net.readStates.get("a")).toEqual([{ requestId: "r1", index: 4 }])
    expect(net.sent.filter((message) => message._tag === "Heartbeat" && message.context === "r1")).toHaveLength(2)
  })

  it("a read records the commitIndex at its arrival and is released by a majority of acks", () => {
    // Reference: thesis §6.4 "the leader saves its current commit index in a local variable
    // readIndex"; "once ... the state machine has advanced at least as far as the readIndex".
    // Set up.
    const net = new TestNetwork(abc)
    net.elect("a")
    net.node("a").propose(put("x", 1))
    net.stabilize()

    // Act: only b's acknowledgement gets through, which with a's own makes a majority.
    net.isolate("c")
    net.node("a").readIndex("r2")
    net.stabilize()

    // Check.
    expect(net.readStates.get("a")).toEqual([{ requestId: "r2", index: 5 }])
    expect(net.node("a").appliedIndex).toBeGreaterThanOrEqual(5)
  })

  it("a deposed leader cut off from the majority never confirms a read", () => {
    // Reference: thesis §6.4: without a majority's heartbeat acks a stale leader could return
    // stale data, so it must not answer.
    // Set up: a is cut off; b and c elect b and write.
    const net = new TestNetwork(abc)
    net.elect("a")
    net.isolate("a")
    net.node("a").readIndex("stale")
    net.elect("b")
    net.node("b").propose(put("x", 1))
    net.stabilize()

    // Act.
    net.tick("a", 5)
    net.heal()
    net.tickAll(3)

    // Check.
    expect(net.readStates.get("a")).toEqual([])
    expect(net.node("a").role).toBe("Follower")
  })

  it("a follower refuses reads and points at the leader", () => {
    // Reference: thesis §6.4 (followers may forward to the leader; the core leaves that to the shell).
    const net = new TestNetwork(abc)
    net.elect("a")
    expect(net.node("b").readIndex("r")).toEqual({ _tag: "NotLeader", leaderHint: "a" })
    expect(net.node("b").propose(put("x", 1))).toEqual({ _tag: "NotLeader", leaderHint: "a" })
  })
})

describe("Figure 2 persistent state: restarting from stable storage", () => {
  it("a restarted server keeps its term, vote and log, and re-applies committed entries", () => {
    // Reference: Figure 2 "Persistent state on all servers: (Updated on stable storage before
    // responding to RPCs) currentTerm, votedFor, log[]".
    // Set up.
    const net = new TestNetwork(abc)
    net.elect("a")
    net.node("a").propose(put("x", 1))
    net.stabilize()
    net.heartbeat("a")
    const before = net.node("b")
    const term = before.term
    const votedFor = before.votedFor
    const entries = before.entries(1, before.lastIndex + 1)

    // Act.
    net.crash("b")
    const after = net.restart("b")

    // Check.
    expect(after.role).toBe("Follower")
    expect(after.term).toBe(term)
    expect(after.votedFor).toBe(votedFor)
    expect(after.entries(1, after.lastIndex + 1)).toEqual(entries)
    expect(after.commitIndex).toBe(5)
    expect(net.stateMachine("b").values.get("x")).toBe(1)
  })

  it("a server that voted and restarted does not vote for someone else in the same term", () => {
    // Reference: §5.2 "each server will vote for at most one candidate in a given term" must
    // survive crashes, hence votedFor is persistent (Figure 2).
    // Set up: vote for b in term 1, and keep only what the Ready asked to persist.
    const config = testConfig("a", abc)
    const raft = newRaft(config)
    drainReady(raft)
    raft.step({ _tag: "RequestVote", from: "b", to: "a", term: 1, preVote: false, lastLogIndex: 3, lastLogTerm: 0, leadershipTransfer: false })
    const ready = drainReady(raft)
    expect(ready.hardState).toEqual({ term: 1, votedFor: "b", commitIndex: 3 })

    // Act.
    const restarted = newRaft(config, { hardState: ready.hardState!, entries: bootstrapLog(abc) })
    restarted.step({ _tag: "RequestVote", from: "c", to: "a", term: 1, preVote: false, lastLogIndex: 3, lastLogTerm: 0, leadershipTransfer: false })

    // Check.
    expect(drainReady(restarted).messages).toEqual([
      { _tag: "RequestVoteResponse", from: "a", to: "c", term: 1, preVote: false, voteGranted: false }
    ])
  })

  it("a restarted server can restore from a snapshot plus the entries after it", () => {
    // Reference: §7 "Each server takes snapshots independently"; after a restart the state
    // machine is loaded from the snapshot and the later entries are replayed.
    // Set up.
    const net = new TestNetwork(abc)
    net.elect("a")
    for (let value = 1; value <= 3; value++) net.node("a").propose(put(`k${value}`, value))
    net.stabilize()
    net.heartbeat("a")
    net.compact("b")
    net.node("a").propose(put("k4", 4))
    net.tickAll(2)

    // Act.
    net.crash("b")
    const b = net.restart("b")

    // Check.
    expect(b.firstIndex).toBe(8)
    expect(b.commitIndex).toBe(8)
    expect(net.applied.get("b")!.map(({ entry }) => entry.index)).toEqual([8])
    expect(net.stateMachine("b").values).toEqual(net.stateMachine("a").values)
  })
})
