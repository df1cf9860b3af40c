// The shipped scenarios tell a story (the leader crashes, the leader is cut off, a crash tears a
// write, keys go unwritten after a heal), and the course teaches from their default seed. Their
// faults name nodes and times, so a change that elects another leader or moves a sync would leave
// a "leader crash" that crashes followers, or a "torn write" that tears nothing: these tests read
// seed 1's trace and hold each story to what happened.
import { describe, expect, it } from "vitest"
import { builtinProtocols } from "../src/definition/registry.ts"
import { runScenario } from "../src/sim/run.ts"
import { loadScenario } from "../src/sim/scenario.ts"
import { parseTraceFile } from "../src/trace/index.ts"
import type { TraceLine } from "../src/trace/index.ts"

const traceOf = (file: string): Array<TraceLine> => {
  const result = runScenario(loadScenario(file), { protocols: builtinProtocols, keepTrace: true })
  expect(result.ok).toBe(true)
  const lines = parseTraceFile(result.traceLines!.join("\n"), file)
  if (typeof lines === "string") throw new Error(lines)
  return lines
}

/** The faults of one kind, with their places in the trace. */
const faultsOf = (lines: ReadonlyArray<TraceLine>, tag: string) =>
  lines.flatMap((line, index) => (line.e === "fault" && line.fault._tag === tag ? [{ t: line.t, fault: line.fault, index }] : []))

const eventsNamed = (lines: ReadonlyArray<TraceLine>, name: string) =>
  lines.flatMap((line) => (line.e === "event" && line.name === name ? [line] : []))

/**
 * The leader when the trace line at `index` happened: the last to become leader before it, unless
 * it stepped down or crashed since. By place in the trace, not by time: a step-down on the tick a
 * fault falls on is traced before or after it, and that order is what happened.
 */
const leaderAt = (lines: ReadonlyArray<TraceLine>, index: number): string | undefined => {
  let leader: string | undefined
  for (const line of lines.slice(0, index)) {
    if (line.e === "event" && line.name === "becomeLeader") leader = line.node
    if (line.e === "event" && line.name === "stepDown" && line.node === leader) leader = undefined
    if (line.e === "fault" && line.fault._tag === "Crash" && line.fault.node === leader) leader = undefined
  }
  return leader
}

const electedAfter = (lines: ReadonlyArray<TraceLine>, t: number, withinUs: number) =>
  eventsNamed(lines, "becomeLeader").find((line) => line.t > t && line.t <= t + withinUs)?.node

/** Checks that a server other than `old` became leader within `withinUs` of time `t`, and returns it. */
const expectNewLeader = (lines: ReadonlyArray<TraceLine>, t: number, withinUs: number, old: string | undefined): string => {
  const next = electedAfter(lines, t, withinUs)
  expect(next, `elected after ${t / 1e6} s`).toBeDefined()
  expect(next).not.toBe(old)
  return next!
}

const stepsDown = (lines: ReadonlyArray<TraceLine>, node: string, t: number, withinUs: number): boolean =>
  eventsNamed(lines, "stepDown").some((line) => line.node === node && line.t > t && line.t < t + withinUs)

describe("raft-leader-crash, seed 1", () => {
  const lines = traceOf("scenarios/raft-leader-crash.yaml")

  it("crashes the leader at 2 s, 5 s and 8 s, and each time another server is elected within 2 s", () => {
    const crashes = faultsOf(lines, "Crash").filter(({ t }) => [2e6, 5e6, 8e6].includes(t))
    expect(crashes).toHaveLength(3)
    for (const { t, fault, index } of crashes) {
      const node = "node" in fault ? fault.node : undefined
      expect(leaderAt(lines, index), `leader at ${t / 1e6} s`).toBe(node)
      expectNewLeader(lines, t, 2e6, node)
    }
  })
})

describe("raft-minority-partition, seed 1", () => {
  const lines = traceOf("scenarios/raft-minority-partition.yaml")

  it("cuts the leader off in the minority twice: the majority elects another, and the old leader steps down", () => {
    const partitions = faultsOf(lines, "Partition")
    expect(partitions).toHaveLength(2)
    for (const { t, fault, index } of partitions) {
      const groups = "groups" in fault ? fault.groups : []
      const minority = groups.find((group) => group.length * 2 < 5)!
      const leader = leaderAt(lines, index)!
      expect(minority, `minority at ${t / 1e6} s`).toContain(leader)
      const next = expectNewLeader(lines, t, 2e6, leader)
      expect(groups.find((group) => group.length * 2 > 5), `majority at ${t / 1e6} s`).toContain(next)
      expect(stepsDown(lines, leader, t, 2e6), `${leader} steps down`).toBe(true)
    }
  })
})

describe("raft-figure-8, seed 1", () => {
  const lines = traceOf("scenarios/raft-figure-8.yaml")

  it("crashes the cut-off leader twice, and each comes back with entries of its own term that a newer term replaced", () => {
    const crashes = faultsOf(lines, "Crash")
    expect(crashes).toHaveLength(2)
    for (const { t, fault, index } of crashes) {
      const node = "node" in fault ? fault.node : ""
      expect(leaderAt(lines, index), `leader at ${t / 1e6} s`).toBe(node)
      // What the node held when it came back, and what it applied at those indexes afterwards.
      const recovered = eventsNamed(lines, "recover").find((line) => line.node === node && line.t > t)!
      const { term, lastIndex } = recovered.attrs as { term: number; lastIndex: number }
      const applied = eventsNamed(lines, "apply").filter((line) => line.node === node && line.t >= recovered.t)
      const atLast = applied.find((line) => (line.attrs as { index: number }).index === lastIndex)
      expect(atLast, `${node} applies index ${lastIndex} after its restart`).toBeDefined()
      expect((atLast!.attrs as { term: number }).term, `the term of ${node}'s entry ${lastIndex}, which it held in term ${term}`).toBeGreaterThan(term)
    }
  })
})

describe("raft-one-way-leader, seed 1", () => {
  const lines = traceOf("scenarios/raft-one-way-leader.yaml")

  it("cuts the leader off one way three times: each time it steps down and another is elected", () => {
    const partitions = faultsOf(lines, "PartitionOneWay")
    expect(partitions).toHaveLength(3)
    for (const { t, fault, index } of partitions) {
      const { from, to } = fault as { from: ReadonlyArray<string>; to: ReadonlyArray<string> }
      const leader = leaderAt(lines, index)!
      // Hearing no one (the others' messages to it dropped), or heard by no one (its own dropped).
      expect(to.length === 1 ? to : from, `the isolated side at ${t / 1e6} s`).toEqual([leader])
      expect(stepsDown(lines, leader, t, 2e6), `${leader} steps down`).toBe(true)
      // Check-quorum takes an election timeout to notice, and the election another.
      expectNewLeader(lines, t, 3e6, leader)
    }
  })
})

describe("raft-snapshot-install, seed 1", () => {
  const lines = traceOf("scenarios/raft-snapshot-install.yaml")

  it("cuts off a follower, not the leader, and the leader brings it back with a snapshot", () => {
    const [partition] = faultsOf(lines, "Partition")
    const cutOff = (partition!.fault as { groups: ReadonlyArray<ReadonlyArray<string>> }).groups.find((group) => group.length === 1)![0]!
    const leader = leaderAt(lines, partition!.index)!
    expect(cutOff).not.toBe(leader)
    const snapshots = lines.filter((line) => line.e === "send" && (line.msg as { _tag?: string })._tag === "InstallSnapshot" && line.to === cutOff)
    expect(snapshots.length).toBeGreaterThan(0)
  })
})

describe.each([
  "scenarios/raft-torn-write.yaml",
  "scenarios/causal-broadcast-crashes.yaml",
  "scenarios/causal-broadcast-twenty-nodes.yaml",
  "scenarios/search-crash-storm.yaml",
  "scenarios/search-replica-crashes.yaml"
])("%s, seed 1", (file) => {
  it("tears a write, as its comment says: a crash catches an append while it syncs", () => {
    // A torn crash tears only an append still syncing; one that falls between syncs tears nothing.
    const torn = faultsOf(traceOf(file), "Crash").filter(({ fault }) => "torn" in fault && fault.torn !== undefined)
    expect(torn.length).toBeGreaterThan(0)
  })
})
