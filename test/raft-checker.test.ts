// The Raft invariant checkers on hand-made event streams: each rule holds on a good stream and
// is reported on a stream that breaks it (Raft paper, Figure 3).
import { describe, expect, it } from "vitest"
import type { ProtocolEvent } from "../src/check/checker.ts"
import { RaftChecker } from "../src/check/raft.ts"

const put = (value: number) => ({ _tag: "Kv", clientId: "c1", sequence: value, operation: { _tag: "Put", key: "k", value } })

const apply = (node: string, index: number, term: number, command: unknown, timeUs = 0): ProtocolEvent => ({
  timeUs,
  node,
  name: "apply",
  attributes: { index, term, command }
})

const becomeLeader = (node: string, term: number, runs: Array<[number, number]>, lastIndex: number): ProtocolEvent => ({
  timeUs: 0,
  node,
  name: "becomeLeader",
  attributes: { term, runs, snapshotIndex: 0, lastIndex }
})

const run = (events: ReadonlyArray<ProtocolEvent>) => {
  const checker = new RaftChecker({ livenessBoundMs: 1000, linearizabilityBudgetMs: 1000 })
  for (const event of events) checker.onEvent(event)
  checker.finish({ timeUs: 0, up: [] })
  return checker.violations.map((violation) => violation.check)
}

describe("state-machine-safety (Figure 3: no two servers apply different commands at one index)", () => {
  it("holds when every server applies the same entry at an index", () => {
    expect(run([apply("n1", 1, 1, put(1)), apply("n2", 1, 1, put(1)), apply("n3", 1, 1, JSON.parse(JSON.stringify(put(1))))])).toEqual([])
  })

  it("holds when the leader's command has an undefined field its followers' decoded copies lack", () => {
    const own = { ...put(1), sequence: undefined }
    expect(run([apply("n1", 1, 1, own), apply("n2", 1, 1, JSON.parse(JSON.stringify(own)))])).toEqual([])
  })

  it("is reported for a different command at the same index", () => {
    expect(run([apply("n1", 1, 1, put(1)), apply("n2", 1, 1, put(2))])).toEqual(["state-machine-safety"])
  })

  it("is reported for the same command with another term at the same index", () => {
    expect(run([apply("n1", 1, 1, put(1)), apply("n2", 1, 2, put(1))])).toEqual(["state-machine-safety"])
  })
})

describe("election-safety and leader-completeness (Figure 3)", () => {
  it("two leaders in one term are reported", () => {
    expect(run([becomeLeader("n1", 2, [[1, 1]], 1), becomeLeader("n2", 2, [[1, 1]], 1)])).toEqual(["election-safety"])
  })

  it("a stale leader of an earlier term need not hold what a later term committed", () => {
    // n2 leads term 2 and commits entry 6; then n4, paused since it won term 1, takes office.
    const events = [becomeLeader("n2", 2, [[1, 0], [6, 2]], 6), apply("n2", 6, 2, put(6)), becomeLeader("n4", 1, [[1, 0], [6, 1]], 6)]
    expect(run(events)).toEqual([])
    // A leader of a later term must hold it.
    expect(run([...events.slice(0, 2), becomeLeader("n4", 3, [[1, 0], [6, 1]], 6)])).toEqual(["leader-completeness"])
  })

  it("a leader whose log lacks an applied entry is reported; one that holds it is not", () => {
    const applied = apply("n1", 2, 1, put(1))
    expect(run([applied, becomeLeader("n2", 2, [[1, 1]], 2)])).toEqual([])
    expect(run([applied, becomeLeader("n2", 2, [[1, 1]], 1)])).toEqual(["leader-completeness"])
  })
})
