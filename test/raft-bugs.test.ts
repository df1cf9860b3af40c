// Planted bugs are caught: each Raft variant of test/fixtures/raft-bugs.ts fails its scenario on a
// seed, with the check the bug breaks, the CLI prints the command that replays it, and the correct
// raft passes the same scenario and seed (so the failure is the bug's, not the scenario's).
import { runCli } from "./fixtures/cli.ts"
import { describe, expect, it } from "vitest"
import { defaultRaftRules, newRaft } from "../src/protocols/raft/raft.ts"
import { TestNetwork, bootstrapLog, drainReady, testConfig } from "../src/protocols/raft/testing.ts"
import type { AppendEntries, Entry, RaftRules, Ready } from "../src/protocols/raft/types.ts"
import { raftProtocol } from "../src/protocols/raft/definition.ts"
import { runScenario, type RunResult } from "../src/sim/run.ts"
import { loadScenario } from "../src/sim/scenario.ts"
import {
  commitOldTermByCounting,
  commitToEndOfLog,
  forgetVote,
  protocols as variants,
  snapshotWithoutSessions,
  truncateOnStaleAppend,
  voteForAnyLog
} from "./fixtures/raft-bugs.ts"

/** One planted bug: its variant, the scenario that shows it, and how it must be caught. */
interface PlantedBug {
  readonly protocol: string
  readonly scenario: string
  /** The check that must be violated on the first failing seed. */
  readonly check: string
  /** What one of that check's violations must say. */
  readonly message: RegExp
}

const plantedBugs: ReadonlyArray<PlantedBug> = [
  {
    // §5.4.2, Figure 8. The core asserts after every commit that the leader committed an entry of
    // its own term; replacing the commit rule does not remove that assertion, which fails the
    // leader at its first old-term commit, before a later leader can overwrite the entry.
    protocol: "raft-bug-commit-old-term",
    scenario: "test/fixtures/raft-bug-commit-old-term.yaml",
    check: "node-failed",
    message: /AssertionError: a leader only commits entries of its own term/
  },
  {
    // §5.2, Figure 2: a forgotten vote is cast again after a restart, and two candidates win one term.
    protocol: "raft-bug-vote-not-persisted",
    scenario: "test/fixtures/raft-bug-vote-not-persisted.yaml",
    check: "election-safety",
    message: /^term \d+ has two leaders: n\d and n\d$/
  },
  {
    // Figure 2, AppendEntries receiver rule 3. A follower that dropped entries it acknowledged is
    // told by the leader's next heartbeat to commit one of them, and its own assertion fails.
    protocol: "raft-bug-truncate-on-stale-append",
    scenario: "test/fixtures/raft-bug-truncate-on-stale-append.yaml",
    check: "node-failed",
    message: /AssertionError: commit \d+ is beyond the last index \d+/
  }
]

/** Seeds 1..this are tried; each scenario fails within the first few (see the report printed). */
const maxSeed = 60

const variantNamed = (name: string) => {
  const variant = variants.find((protocol) => protocol.name === name)
  if (variant === undefined) throw new Error(`test/fixtures/raft-bugs.ts exports no protocol named ${name}`)
  return variant
}

const failedChecks = (result: RunResult) => result.checks.filter((check) => !check.ok)

const cli = (...args: Array<string>) => runCli(args)

describe("planted Raft bugs are caught", () => {
  it("the fixture module exports the three variants with scenarios of their own (the others: planted-bugs-swarm.test.ts)", () => {
    for (const bug of plantedBugs) expect(variants.map((protocol) => protocol.name)).toContain(bug.protocol)
  })

  for (const bug of plantedBugs) {
    it(`${bug.protocol}: a seed fails ${bug.check}, the CLI prints its replay, and the correct raft passes it`, () => {
      // Set up: the variant under its scenario, and the correct raft under the same scenario.
      const scenario = loadScenario(bug.scenario)
      expect(scenario.protocol).toBe(bug.protocol)
      const protocols = new Map([[bug.protocol, variantNamed(bug.protocol)]])

      // Act: run seeds in order until one fails.
      let failing: RunResult | undefined
      for (let seed = 1; seed <= maxSeed && failing === undefined; seed++) {
        const result = runScenario(scenario, { seed, protocols })
        if (!result.ok) failing = result
      }

      // Check: a seed failed, and the bug's own check is among those it violated.
      if (failing === undefined) throw new Error(`${bug.protocol}: no seed in 1..${maxSeed} failed ${bug.scenario}`)
      const seed = failing.seed
      const violated = failedChecks(failing)
      console.info(
        `${bug.protocol}: seed ${seed} violates ${violated.map((check) => check.name).join(", ")}; ` +
          `first ${bug.check}: ${violated.find((check) => check.name === bug.check)?.violations[0]?.message ?? "(none)"}`
      )
      const caught = violated.find((check) => check.name === bug.check)
      expect(caught, `seed ${seed} violates ${violated.map((check) => check.name).join(", ")}`).toBeDefined()
      expect(caught!.violations.map((violation) => violation.message)).toContainEqual(expect.stringMatching(bug.message))

      // The correct raft passes the same scenario and seed, so the failure is the bug's.
      const correct = runScenario({ ...scenario, protocol: "raft" }, { seed, protocols: new Map([["raft", raftProtocol()]]) })
      expect(failedChecks(correct).map((check) => `${check.name}: ${check.violations[0]?.message}`)).toEqual([])

      // The CLI fails the same run with exit 1 and prints the command that replays it.
      const result = cli("run", bug.scenario, "--seed", String(seed), "--protocols", "test/fixtures/raft-bugs.ts")
      expect(result.stderr).toBe("")
      expect(result.status).toBe(1)
      expect(result.stdout).toContain(`✗ ${bug.check}`)
      expect(result.stdout).toContain(
        `replay: npx faultline run ${bug.scenario} --seed ${seed} --protocols test/fixtures/raft-bugs.ts`
      )
      expect(result.stdout).toContain(`trace hash   ${failing.traceHash}`)
    })
  }
})

describe("the seams plant exactly the bug and nothing else", () => {
  const abc = ["a", "b", "c"]
  const noops = (term: number, from: number, count: number): Entry[] =>
    Array.from({ length: count }, (_, offset) => ({ term, index: from + offset, command: { _tag: "Noop" } }))
  const append = (entries: Entry[]): AppendEntries => ({
    _tag: "AppendEntries",
    from: "b",
    to: "a",
    term: 1,
    prevLogIndex: 3,
    prevLogTerm: 0,
    entries,
    leaderCommit: 3
  })

  /** Follower "a" acknowledges entries 4..6, then a late copy of an older request carrying only 4. */
  const staleAppend = (rules?: Partial<RaftRules>) => {
    const raft = newRaft(
      { ...testConfig("a", abc), ...(rules === undefined ? {} : { rules }) },
      { hardState: { term: 1, votedFor: null, commitIndex: 3 }, entries: bootstrapLog(abc) }
    )
    raft.step(append(noops(1, 4, 3)))
    drainReady(raft)
    raft.step(append(noops(1, 4, 1)))
    return { raft, ready: drainReady(raft) }
  }

  it("without rules the follower keeps acknowledged entries on a stale AppendEntries", () => {
    // Reference: Figure 2, AppendEntries receiver rule 3 (delete only on a conflict).
    const { raft, ready } = staleAppend()
    expect(raft.lastIndex).toBe(6)
    expect(ready.truncateFrom).toBeUndefined()
  })

  it("the stale-append rule removes acknowledged entries, and persists the removal", () => {
    // Set up and act: the same requests, with the planted append rule.
    const { raft, ready } = staleAppend(truncateOnStaleAppend)
    // Check: entries 5 and 6, acknowledged before, are gone, in memory and on storage.
    expect(raft.lastIndex).toBe(4)
    expect(ready.truncateFrom).toBe(4)
    expect(ready.entries.map((entry) => entry.index)).toEqual([4])
  })

  it("the old-term commit rule differs from the paper's only for entries of earlier terms", () => {
    // Reference: §5.4.2, Figure 8.
    const planted = commitOldTermByCounting.commitByCounting!
    expect(defaultRaftRules.commitByCounting({ entryTerm: 2, currentTerm: 4 })).toBe(false)
    expect(planted({ entryTerm: 2, currentTerm: 4 })).toBe(true)
    expect(defaultRaftRules.commitByCounting({ entryTerm: 4, currentTerm: 4 })).toBe(true)
    expect(planted({ entryTerm: 4, currentTerm: 4 })).toBe(true)
  })

  it("the vote hook drops only the vote from what is persisted", () => {
    // Reference: Figure 2, persistent state (votedFor is on stable storage before answering).
    const ready: Ready = {
      hardState: { term: 3, votedFor: "b", commitIndex: 7 },
      entries: noops(3, 8, 1),
      messages: [],
      committedEntries: [],
      readStates: []
    }
    expect(forgetVote(ready)).toEqual({ ...ready, hardState: { term: 3, votedFor: null, commitIndex: 7 } })
    const withoutHardState: Ready = { entries: [], messages: [], committedEntries: [], readStates: [] }
    expect(forgetVote(withoutHardState)).toBe(withoutHardState)
  })

  it("the vote rule differs from the paper's only for a candidate whose log is behind", () => {
    // Reference: §5.4.1, the election restriction.
    const behind = { candidateLastIndex: 5, candidateLastTerm: 2, lastIndex: 7, lastTerm: 3 }
    const ahead = { candidateLastIndex: 7, candidateLastTerm: 3, lastIndex: 5, lastTerm: 2 }
    expect(defaultRaftRules.voteForLog(behind)).toBe(false)
    expect(voteForAnyLog.voteForLog!(behind)).toBe(true)
    expect(defaultRaftRules.voteForLog(ahead)).toBe(true)
    expect(voteForAnyLog.voteForLog!(ahead)).toBe(true)
  })

  it("the follower commit rule commits past the checked entries only when the log runs further", () => {
    // Reference: Figure 2, AppendEntries receiver rule 5.
    const longer = { leaderCommit: 9, lastNewIndex: 4, lastIndex: 8 }
    expect(defaultRaftRules.followerCommit(longer)).toBe(4)
    expect(commitToEndOfLog.followerCommit!(longer)).toBe(8)
    const exact = { leaderCommit: 9, lastNewIndex: 8, lastIndex: 8 }
    expect(commitToEndOfLog.followerCommit!(exact)).toBe(defaultRaftRules.followerCommit(exact))
  })

  it("the follower commit rule cannot bite here: a follower's stale entries go with the first request it accepts", () => {
    // Reference: §5.3 (the leader backs nextIndex off until the logs match) and Figure 2 rule 5.
    // Why raft-bug-commit-to-end-of-log is not in swarmCaughtBugs: it needs a request that ends
    // before a follower's stale entries and carries a commit past them. Set up the most favourable
    // case: one entry per request, a follower "c" with 20 entries of an old term past the 55 it
    // shares with the leader, and a leader whose 20 entries of term 3 there are already committed.
    const ids = ["a", "b", "c", "d", "e"]
    const net = new TestNetwork(ids, { maxEntriesPerAppend: 1, rules: commitToEndOfLog })
    const shared = [...bootstrapLog(ids), ...noops(1, 6, 50)]
    const leaderLog = [...shared, ...noops(3, 56, 20)]
    for (const id of ["a", "b", "d", "e"]) net.load(id, { hardState: { term: 3, votedFor: null, commitIndex: 75 }, entries: leaderLog })
    net.load("c", { hardState: { term: 2, votedFor: null, commitIndex: 55 }, entries: [...shared, ...noops(2, 56, 20)] })

    // Act.
    net.elect("a")
    net.stabilize()

    // Check: the first request c accepts starts right after the last shared entry, so it carries
    // c's first stale entry and truncates them all; c applies only the leader's entries.
    const accepted = net.sent.filter((message) => message._tag === "AppendEntriesResponse" && message.from === "c" && message.success)
    const firstAccepted = net.sent.find((message) => message._tag === "AppendEntries" && message.to === "c" && message.prevLogIndex === 55)
    expect(accepted[0]).toMatchObject({ matchIndex: 56 })
    expect(firstAccepted).toMatchObject({ entries: [{ index: 56, term: 3 }] })
    const leader = net.node("a")
    expect(net.node("c").entries(1, leader.lastIndex + 1)).toEqual(leader.entries(1, leader.lastIndex + 1))
    expect(net.applied.get("c")!.every(({ entry }) => entry.term !== 2)).toBe(true)
  })

  it("the snapshot hook drops the session table and nothing else", () => {
    // Reference: thesis §6.3 (sessions are part of the replicated state).
    const data = { appliedIndex: 4, values: [["k", 1]], sessions: [["c1", 3, { _tag: "Ok" }]] }
    expect(snapshotWithoutSessions(data)).toEqual({ ...data, sessions: [] })
    expect(snapshotWithoutSessions(null)).toBeNull()
  })
})
