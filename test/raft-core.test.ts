// Paper-style tests of the Raft core's elections (in the manner of etcd's raft_paper_test.go):
// terms (§5.1), leader election (§5.2), the election restriction (§5.4.1), and the thesis
// extensions that protect elections: pre-vote (§9.6), check-quorum (§6.2) and leases (§4.2.3).
import { describe, expect, it } from "vitest"
import { newRaft, type Message, type Ready, type RequestVote } from "../src/protocols/raft/index.ts"
import { TestNetwork, bootstrapLog as bootstrap, drainReady as drain, testConfig } from "../src/protocols/raft/testing.ts"

const abc = ["a", "b", "c"]

function voteRequest(fields: Partial<RequestVote> & { from: string; to: string; term: number }): RequestVote {
  return { _tag: "RequestVote", preVote: false, lastLogIndex: 3, lastLogTerm: 0, leadershipTransfer: false, ...fields }
}

function votesIn(ready: Ready): Array<{ to: string; granted: boolean; term: number }> {
  return ready.messages.flatMap((message: Message) =>
    message._tag === "RequestVoteResponse" ? [{ to: message.to, granted: message.voteGranted, term: message.term }] : []
  )
}

describe("§5.1 terms", () => {
  it("a leader that sees a higher term becomes a follower in that term", () => {
    // Reference: §5.1 "If a candidate or leader discovers that its term is out of date, it
    // immediately reverts to follower state."
    // Set up.
    const net = new TestNetwork(abc)
    net.elect("a")
    const leader = net.node("a")
    expect(leader.term).toBe(1)

    // Act: a heartbeat from a leader of term 2.
    leader.step({ _tag: "Heartbeat", from: "b", to: "a", term: 2, leaderCommit: 0 })

    // Check.
    expect(leader.role).toBe("Follower")
    expect(leader.term).toBe(2)
    expect(leader.leader).toBe("b")
  })

  it("a request with a stale term is rejected and changes nothing", () => {
    // Reference: §5.1 "If a server receives a request with a stale term number, it rejects the request."
    // Set up: a follower at term 2.
    const raft = newRaft(testConfig("a", abc), { hardState: { term: 2, votedFor: null }, entries: bootstrap(abc) })
    drain(raft)

    // Act: an AppendEntries and a RequestVote from term 1.
    raft.step({
      _tag: "AppendEntries", from: "b", to: "a", term: 1, prevLogIndex: 3, prevLogTerm: 0, leaderCommit: 4,
      entries: [{ term: 1, index: 4, command: { _tag: "Noop" } }]
    })
    raft.step(voteRequest({ from: "c", to: "a", term: 1, lastLogIndex: 10, lastLogTerm: 1 }))
    const ready = drain(raft)

    // Check: nothing appended, no vote, no answer (neither pre-vote nor check-quorum is on).
    expect(raft.lastIndex).toBe(3)
    expect(raft.term).toBe(2)
    expect(raft.votedFor).toBeNull()
    expect(ready.messages).toEqual([])
  })
})

describe("§5.2 leader election", () => {
  it("a follower that hears nothing for an election timeout becomes a candidate and requests votes", () => {
    // Reference: §5.2 "To begin an election, a follower increments its current term and
    // transitions to candidate state. It then votes for itself and issues RequestVote RPCs".
    // Set up.
    const config = testConfig("a", abc)
    const raft = newRaft(config)
    drain(raft)

    // Act: tick until something happens.
    let ticks = 0
    while (raft.role === "Follower") {
      raft.tick()
      ticks++
      expect(ticks).toBeLessThan(config.electionTimeoutTicksMax)
    }
    const ready = drain(raft)

    // Check: a new term, a vote for itself persisted in the same Ready as the requests.
    expect(ticks).toBeGreaterThanOrEqual(config.electionTimeoutTicksMin)
    expect(raft.role).toBe("Candidate")
    expect(raft.term).toBe(1)
    expect(ready.hardState).toEqual({ term: 1, votedFor: "a", commitIndex: 3 })
    expect(ready.messages).toEqual([
      voteRequest({ from: "a", to: "b", term: 1 }),
      voteRequest({ from: "a", to: "c", term: 1 })
    ])
  })

  it("election timeouts are drawn at random from [min, max)", () => {
    // Reference: §5.2 "Raft uses randomized election timeouts ... chosen randomly from a fixed
    // interval (e.g., 150-300ms)."
    // Set up: many servers with different random streams.
    const timeouts = new Set<number>()
    for (let seed = 0; seed < 40; seed++) {
      const raft = newRaft({ ...testConfig("a", abc), randomInt: (bound) => (seed * 7) % bound })
      drain(raft)

      // Act.
      let ticks = 0
      while (raft.role === "Follower") {
        raft.tick()
        ticks++
      }
      timeouts.add(ticks)
    }

    // Check: within the interval, and spread over it.
    for (const ticks of timeouts) {
      expect(ticks).toBeGreaterThanOrEqual(10)
      expect(ticks).toBeLessThan(20)
    }
    expect(timeouts.size).toBe(10)
  })

  it("a server votes for at most one candidate per term, first come first served", () => {
    // Reference: §5.2 "Each server will vote for at most one candidate in a given term, on a
    // first-come-first-served basis".
    // Set up.
    const raft = newRaft(testConfig("a", abc))
    drain(raft)

    // Act: b asks, then c asks in the same term, then b asks again.
    raft.step(voteRequest({ from: "b", to: "a", term: 1 }))
    const first = drain(raft)
    raft.step(voteRequest({ from: "c", to: "a", term: 1 }))
    const second = drain(raft)
    raft.step(voteRequest({ from: "b", to: "a", term: 1 }))
    const third = drain(raft)

    // Check: the vote is persisted with the grant, refused to c, and repeatable for b.
    expect(first.hardState).toEqual({ term: 1, votedFor: "b", commitIndex: 3 })
    expect(votesIn(first)).toEqual([{ to: "b", granted: true, term: 1 }])
    expect(votesIn(second)).toEqual([{ to: "c", granted: false, term: 1 }])
    expect(votesIn(third)).toEqual([{ to: "b", granted: true, term: 1 }])
    expect(raft.votedFor).toBe("b")
  })

  it("a candidate wins with votes from a majority and loses on a majority of rejections", () => {
    // Reference: §5.2 "A candidate wins an election if it receives votes from a majority of the
    // servers in the full cluster for the same term."
    const five = ["a", "b", "c", "d", "e"]
    const response = (from: string, voteGranted: boolean): Message => ({
      _tag: "RequestVoteResponse", from, to: "a", term: 1, preVote: false, voteGranted
    })
    // Set up: two candidates of a five-server cluster.
    const winner = newRaft(testConfig("a", five))
    const loser = newRaft(testConfig("a", five))
    for (const raft of [winner, loser]) {
      drain(raft)
      raft.campaign()
      drain(raft)
    }

    // Act and check: two grants (plus its own vote) make three of five.
    winner.step(response("b", true))
    expect(winner.role).toBe("Candidate")
    winner.step(response("b", true))
    expect(winner.role).toBe("Candidate")
    winner.step(response("c", true))
    expect(winner.role).toBe("Leader")
    expect(winner.leader).toBe("a")

    // Act and check: three rejections make winning impossible.
    loser.step(response("b", false))
    loser.step(response("c", false))
    expect(loser.role).toBe("Candidate")
    loser.step(response("d", false))
    expect(loser.role).toBe("Follower")
    expect(loser.term).toBe(1)
  })

  it("a candidate that hears from a leader of its term returns to follower", () => {
    // Reference: §5.2 "If the leader's term ... is at least as large as the candidate's current
    // term, then the candidate recognizes the leader as legitimate and returns to follower state."
    // Set up.
    const raft = newRaft(testConfig("a", abc))
    drain(raft)
    raft.campaign()
    drain(raft)

    // Act.
    raft.step({
      _tag: "AppendEntries", from: "b", to: "a", term: 1, prevLogIndex: 3, prevLogTerm: 0, leaderCommit: 3,
      entries: [{ term: 1, index: 4, command: { _tag: "Noop" } }]
    })

    // Check.
    expect(raft.role).toBe("Follower")
    expect(raft.leader).toBe("b")
    expect(raft.lastIndex).toBe(4)
  })

  it("a cluster elects exactly one leader and every server learns it", () => {
    // Reference: §5.2 "Election Safety: at most one leader can be elected in a given term."
    // Set up.
    const net = new TestNetwork(["a", "b", "c", "d", "e"])

    // Act: let the clocks run.
    net.tickAll(40)

    // Check.
    const leaders = net.leaders()
    expect(leaders).toHaveLength(1)
    const leader = leaders[0]!
    for (const raft of net.nodes.values()) {
      expect(raft.term).toBe(leader.term)
      expect(raft.leader).toBe(leader.id)
    }
  })
})

describe("§5.4.1 election restriction", () => {
  it("a vote is granted only to a candidate whose log is at least as up-to-date", () => {
    // Reference: §5.4.1 "If the logs have last entries with different terms, then the log with
    // the later term is more up-to-date. If the logs end with the same term, then whichever log
    // is longer is more up-to-date."
    const cases = [
      { lastLogTerm: 3, lastLogIndex: 5, granted: true },
      { lastLogTerm: 3, lastLogIndex: 6, granted: true },
      { lastLogTerm: 3, lastLogIndex: 4, granted: false },
      { lastLogTerm: 2, lastLogIndex: 10, granted: false },
      { lastLogTerm: 4, lastLogIndex: 1, granted: true }
    ]
    for (const { lastLogTerm, lastLogIndex, granted } of cases) {
      // Set up: a voter whose log ends (index 5, term 3).
      const raft = newRaft(testConfig("a", abc), {
        hardState: { term: 3, votedFor: null },
        entries: [
          ...bootstrap(abc),
          { term: 2, index: 4, command: { _tag: "Noop" } },
          { term: 3, index: 5, command: { _tag: "Noop" } }
        ]
      })
      drain(raft)

      // Act.
      raft.step(voteRequest({ from: "b", to: "a", term: 4, lastLogIndex, lastLogTerm }))

      // Check.
      expect(votesIn(drain(raft))).toEqual([{ to: "b", granted, term: 4 }])
      expect(raft.votedFor).toBe(granted ? "b" : null)
    }
  })

  it("a server missing a committed entry cannot become leader", () => {
    // Reference: §5.4.1 "a candidate must contact a majority of the cluster in order to be
    // elected, which means that every committed entry must be present in at least one of those
    // servers" (Leader Completeness).
    // Set up: c misses an entry committed by a and b; then a crashes.
    const net = new TestNetwork(abc)
    net.elect("a")
    net.isolate("c")
    const accepted = net.node("a").propose({ _tag: "Noop" })
    net.stabilize()
    expect(accepted).toEqual({ _tag: "Accepted", index: 5, term: 1 })
    expect(net.node("a").commitIndex).toBe(5)
    net.crash("a")
    net.heal()

    // Act: c campaigns first, then b.
    net.node("c").campaign()
    net.stabilize()
    const cRole = net.node("c").role
    net.node("b").campaign()
    net.stabilize()

    // Check.
    expect(cRole).not.toBe("Leader")
    expect(net.node("b").role).toBe("Leader")
    expect(net.node("c").termAt(5)).toBe(1)
  })
})

describe("thesis §9.6 pre-vote", () => {
  it("a partitioned server does not raise its term, and rejoining does not disrupt the leader", () => {
    // Reference: thesis §9.6 "a candidate would first ask other servers whether its log was
    // up-to-date enough to get their vote. Only if the candidate believed it could get votes
    // from a majority of the cluster would it increment its term and start a normal election."
    for (const preVote of [true, false]) {
      // Set up.
      const net = new TestNetwork(abc, { preVote })
      net.elect("a")
      net.isolate("c")

      // Act: c times out again and again, then rejoins.
      net.tick("c", 100)
      const partitionedTerm = net.node("c").term
      net.heal()
      net.tickAll(30)

      // Check: with pre-vote nothing moved; without it (the control) c disrupted the cluster.
      if (preVote) {
        expect(partitionedTerm).toBe(1)
        expect(net.node("a").role).toBe("Leader")
        expect(net.node("a").term).toBe(1)
        expect(net.node("c").leader).toBe("a")
      } else {
        expect(partitionedTerm).toBeGreaterThan(1)
        expect(net.node("a").term).toBeGreaterThan(1)
      }
    }
  })

  it("a server that heard from its leader within the election timeout ignores pre-votes", () => {
    // Reference: thesis §9.6 "servers ... grant a pre-vote only if they have not heard from a
    // leader within the election timeout" (with §4.2.3's reasoning).
    // Set up.
    const net = new TestNetwork(abc, { preVote: true })
    net.elect("a")
    const follower = net.node("b")

    // Act: c pre-campaigns while b still hears from a.
    follower.step(voteRequest({ from: "c", to: "b", term: 2, preVote: true, lastLogIndex: 4, lastLogTerm: 1 }))
    net.process("b")
    const whileLeaderAlive = net.queue.filter((message) => message.to === "c")
    net.queue = []
    net.tick("b", 10)
    follower.step(voteRequest({ from: "c", to: "b", term: 2, preVote: true, lastLogIndex: 4, lastLogTerm: 1 }))
    net.process("b")
    const afterSilence = net.queue.filter((message) => message.to === "c")

    // Check: ignored at first; granted (without changing b's term) once a went quiet.
    expect(whileLeaderAlive).toEqual([])
    expect(afterSilence).toEqual([
      { _tag: "RequestVoteResponse", from: "b", to: "c", term: 2, preVote: true, voteGranted: true }
    ])
    expect(follower.term).toBe(1)
    expect(follower.votedFor).toBe("a")
  })

  it("when the leader is gone, a pre-vote leads to a real election one term later", () => {
    // Reference: thesis §9.6: a pre-candidate that can win goes on to a normal election.
    // Set up: a is gone, and c's lease on it has run out.
    const net = new TestNetwork(abc, { preVote: true })
    net.elect("a")
    net.crash("a")
    net.tick("c", 10)
    expect(net.node("c").role).toBe("Follower")

    // Act: b's election timer fires.
    net.node("b").campaign()
    const preCandidateTerm = net.node("b").term
    net.stabilize()

    // Check: polling kept the term; the real election took exactly one more.
    expect(preCandidateTerm).toBe(1)
    expect(net.node("b").role).toBe("Leader")
    expect(net.node("b").term).toBe(2)
    expect(net.node("c").leader).toBe("b")
  })
})

describe("thesis §6.2 check-quorum and §4.2.3 leases", () => {
  it("a leader that cannot reach a majority for an election timeout steps down", () => {
    // Reference: thesis §6.2 "a leader steps down if an election timeout elapses without a
    // successful round of heartbeats to a majority of its cluster".
    // Set up.
    const net = new TestNetwork(abc, { checkQuorum: true })
    net.elect("a")
    net.tickAll(25)
    expect(net.node("a").role).toBe("Leader")

    // Act.
    net.isolate("a")
    net.tick("a", 20)

    // Check.
    expect(net.node("a").role).toBe("Follower")
    expect(net.node("a").leader).toBeNull()
  })

  it("with check-quorum a follower that hears from its leader ignores a higher-term RequestVote, except for a transfer", () => {
    // Reference: thesis §4.2.3 "if a server receives a RequestVote request within the minimum
    // election timeout of hearing from a current leader, it does not update its term or grant
    // its vote"; §3.10 lets a leadership transfer through.
    // Set up.
    const net = new TestNetwork(abc, { checkQuorum: true })
    net.elect("a")
    const follower = net.node("b")

    // Act: c (say, back from a partition) asks for votes at term 5.
    follower.step(voteRequest({ from: "c", to: "b", term: 5, lastLogIndex: 4, lastLogTerm: 1 }))
    net.process("b")
    const ignored = net.queue.filter((message) => message.to === "c")
    const termAfterIgnored = follower.term
    net.queue = []
    follower.step(voteRequest({ from: "c", to: "b", term: 5, lastLogIndex: 4, lastLogTerm: 1, leadershipTransfer: true }))
    net.process("b")
    const answered = net.queue.filter((message) => message.to === "c")

    // Check.
    expect(ignored).toEqual([])
    expect(termAfterIgnored).toBe(1)
    expect(answered).toEqual([
      { _tag: "RequestVoteResponse", from: "b", to: "c", term: 5, preVote: false, voteGranted: true }
    ])
  })

  it("a server whose term ran ahead is brought back: its answer makes the stale leader step down", () => {
    // Reference: thesis §4.2.3 together with §5.1; with leases a server cut off at a higher
    // term could never rejoin, so it answers a stale leader's heartbeat with its own term.
    // Set up: c's term runs ahead while it is cut off (no pre-vote).
    const net = new TestNetwork(abc, { checkQuorum: true })
    net.elect("a")
    net.isolate("c")
    net.tick("c", 40)
    expect(net.node("c").term).toBeGreaterThan(1)

    // Act.
    net.heal()
    net.tickAll(60)

    // Check: the cluster converged on one leader at c's term or later, and c follows it.
    const leaders = net.leaders()
    expect(leaders).toHaveLength(1)
    expect(leaders[0]!.term).toBeGreaterThan(1)
    expect(net.node("c").leader).toBe(leaders[0]!.id)
  })
})
