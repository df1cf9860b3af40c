// The quorum store's `no-foreign-value` check: a key holds only values written to it. It judges what
// was observed (replicas' `store` events, clients' reads) against what clients invoked, and catches
// session 7's bug (a reply to another key's request merged into a read and repaired into the key)
// when it happens, where `no-lost-write` noticed it only at the end of the run, if at all.
import { describe, expect, it } from "vitest"
import type { ProtocolEvent } from "../src/check/checker.ts"
import { QuorumStoreChecker } from "../src/check/quorum-store.ts"
import { builtinProtocols } from "../src/definition/registry.ts"
import { runScenario, type RunResult } from "../src/sim/run.ts"
import { loadScenario } from "../src/sim/scenario.ts"
import { protocols as variants } from "./fixtures/quorum-bugs.ts"

const protocols = new Map([...builtinProtocols, ...variants.map((protocol) => [protocol.name, protocol] as const)])

const checker = () => new QuorumStoreChecker({ livenessBoundMs: 3000, ownersOf: () => ["n1", "n2", "n3"], convergenceMs: 1000, lastWriterWins: false })

const history = (timeUs: number, attributes: Record<string, unknown>): ProtocolEvent => ({ timeUs, node: "c1", name: "history", attributes })
const write = (timeUs: number, process: number, key: string, value: number): Array<ProtocolEvent> => [
  history(timeUs, { process, type: "invoke", f: "write", key, value, supersedes: [] }),
  history(timeUs + 10, { process, type: "ok", f: "write", key, value })
]
const read = (timeUs: number, process: number, key: string, values: Array<number>): Array<ProtocolEvent> => [
  history(timeUs, { process, type: "invoke", f: "read", key, value: null }),
  history(timeUs + 10, { process, type: "ok", f: "read", key, value: values })
]
const store = (timeUs: number, node: string, key: string, values: Array<number>): ProtocolEvent => ({
  timeUs,
  node,
  name: "store",
  attributes: { key, values, digest: values.length }
})

/** The `no-foreign-value` violations and the checker's notes after `events`. */
const judge = (events: ReadonlyArray<ProtocolEvent>) => {
  const judged = checker()
  for (const event of events) judged.onEvent(event)
  judged.finish({ timeUs: 100_000, up: ["n1", "n2", "n3"] })
  return { violations: judged.violations.filter((violation) => violation.check === "no-foreign-value"), notes: judged.notes }
}

describe("no-foreign-value, on events", () => {
  it("is one of the store's checks", () => {
    expect(checker().checks).toContain("no-foreign-value")
    expect(checker().livenessChecks).not.toContain("no-foreign-value")
  })

  it("holds when every value stored and read under a key was written to it", () => {
    const { violations, notes } = judge([
      ...write(100, 1, "k1", 1000001),
      store(105, "n1", "k1", [1000001]),
      ...write(200, 2, "k2", 2000001),
      store(205, "n2", "k2", [2000001]),
      ...read(300, 1, "k1", [1000001]),
      store(400, "n3", "k1", [])
    ])
    expect(violations).toEqual([])
    expect(notes).toEqual([])
  })

  it("a replica that stores another key's value under a key is named, with the value, where it was written, and when", () => {
    const { violations } = judge([
      ...write(100, 1, "k1", 1000001),
      ...write(150, 2, "k3", 2000001),
      store(300, "n2", "k3", [2000001, 1000001])
    ])
    expect(violations).toEqual([{ check: "no-foreign-value", message: "key k3: n2 stored 1000001 at 0.3 ms, a value written to k1, never to k3", timeUs: 300 }])
  })

  it("a read that returns another key's value is named, with the client process; each key once, at its first sighting", () => {
    const { violations } = judge([
      ...write(100, 1, "k1", 1000001),
      ...write(120, 1, "k2", 1000002),
      ...read(200, 2, "k3", [1000001]),
      store(300, "n1", "k3", [1000002]),
      store(400, "n1", "k4", [1000002])
    ])
    expect(violations.map((violation) => violation.message)).toEqual([
      "key k3: a read by client process 2 returned 1000001 at 0.21 ms, a value written to k1, never to k3",
      "key k4: n1 stored 1000002 at 0.4 ms, a value written to k2, never to k4"
    ])
  })

  it("judges a store seen before the write's invoke is read (a merged real trace), once every write is known", () => {
    const { violations } = judge([store(50, "n1", "k1", [1000001]), ...write(100, 1, "k1", 1000001), store(150, "n1", "k2", [1000001])])
    expect(violations.map((violation) => violation.message)).toEqual(["key k2: n1 stored 1000001 at 0.15 ms, a value written to k1, never to k2"])
  })

  it("notes rather than judges a value no recorded client wrote (a real cluster takes writes from outside its workload)", () => {
    const { violations, notes } = judge([...write(100, 1, "k1", 1000001), store(150, "n1", "greeting", [7])])
    expect(violations).toEqual([])
    expect(notes).toEqual(["no-foreign-value: 1 values no recorded client wrote were not judged (writes made outside the recorded workload)"])
  })
})

const foreign = (result: RunResult) => result.checks.find((check) => check.name === "no-foreign-value")!

describe("no-foreign-value, on runs", () => {
  it.each(["quorum-crashes", "quorum-hinted-handoff", "quorum-membership", "quorum-partitions", "quorum-stale-reads"])(
    "holds on the shipped %s, seeds 1 and 2, and every value it saw was a recorded write",
    (name) => {
      for (const seed of [1, 2]) {
        const result = runScenario(loadScenario(`scenarios/${name}.yaml`), { seed, protocols })
        expect(foreign(result).violations, `seed ${seed}`).toEqual([])
        // In the simulator every writer is a recorded client, so nothing was left unjudged.
        expect(result.notes.filter((note) => note.startsWith("no-foreign-value")), `seed ${seed}`).toEqual([])
      }
    },
    60_000
  )
})
