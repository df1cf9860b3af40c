// The quorum store's checker against a plain reading of its rules: on generated runs of a model
// store (read-modify-writes, with now and then a stale read, a dropped write, a blind write, an
// answer lost, a stand-in), no-lost-write, siblings and stale-read report exactly what a direct
// search of each write's ancestors reports, message for message.
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { ProtocolEvent, Violation } from "../src/check/checker.ts"
import { QuorumStoreChecker } from "../src/check/quorum-store.ts"
import { plainAncestors } from "./fixtures/plain-ancestors.ts"

const NODES = ["n1", "n2", "n3"]
const JUDGED = ["no-lost-write", "siblings", "stale-read"]
/** The checker reports at most this many violations of a check. */
const REPORTED_MAX = 5

/** A run of a model store with three replicas, driven by `random`: its events and when it ends. */
const modelRun = (random: () => number, operations: number, keys: number): { events: Array<ProtocolEvent>; endUs: number } => {
  const events: Array<ProtocolEvent> = []
  let timeUs = 0
  const event = (name: string, attributes: Record<string, unknown>, node = "client") => events.push({ timeUs: (timeUs += 1 + Math.floor(random() * 20)), node, name, attributes })
  const state = new Map<string, Array<number>>()
  const past = new Map<string, Array<Array<number>>>()
  const clients: Array<{ key: string; read: Array<number>; value?: number } | undefined> = [undefined, undefined, undefined, undefined]
  let written = 0
  for (let step = 0; step < operations; step++) {
    const process = Math.floor(random() * clients.length)
    const client = clients[process]
    if (client === undefined) {
      const key = `k${Math.floor(random() * keys)}`
      const states = past.get(key) ?? [[]]
      const values = random() < 0.03 ? [...states[Math.floor(random() * states.length)]!] : [...(state.get(key) ?? [])]
      event("history", { process, type: "invoke", f: "read", key, value: null })
      event("history", { process, type: "ok", f: "read", key, value: values })
      clients[process] = { key, read: values }
    } else if (client.value === undefined) {
      client.value = written++
      event("history", { process, type: "invoke", f: "write", key: client.key, value: client.value, supersedes: random() < 0.05 ? [] : client.read })
      if (random() < 0.05) event("standIn", { key: client.key }, "n2")
    } else {
      const current = state.get(client.key) ?? []
      const next = random() < 0.02 ? current : [...current.filter((value) => !client.read.includes(value) || random() < 0.01), client.value]
      state.set(client.key, next)
      past.set(client.key, [...(past.get(client.key) ?? []), next])
      for (const node of NODES) if (random() < 0.9) event("store", { key: client.key, values: next, digest: next.length }, node)
      event("history", { process, type: random() < 0.9 ? "ok" : "info", f: "write", key: client.key, value: client.value })
      clients[process] = undefined
    }
  }
  return { events, endUs: timeUs + 5_000_000 }
}

/** The three checks' violations read straight from the rules, with the checker's messages and order. */
const plainViolations = (events: ReadonlyArray<ProtocolEvent>, endUs: number): Array<Violation> => {
  const text = (value: unknown) => JSON.stringify(value)
  const writes = new Map<string, { key: string; invokeUs: number; okUs?: number; supersedes: Array<string> }>()
  const reads: Array<{ key: string; invokeUs: number; okUs: number; values: Array<string> }> = []
  const invoked = new Map<number, number>()
  const stored = new Map<string, Map<string, Array<string>>>()
  const standIns = new Map<string, Array<number>>()
  for (const { name, attributes, timeUs, node } of events) {
    const a = attributes as { process: number; type: string; f: string; key: string; value: unknown; supersedes?: Array<unknown>; values: Array<unknown> }
    if (name === "store") stored.set(node, (stored.get(node) ?? new Map()).set(a.key, a.values.map(text)))
    if (name === "standIn") standIns.set(a.key, [...(standIns.get(a.key) ?? []), timeUs])
    if (name !== "history") continue
    if (a.f === "write" && a.type === "invoke") writes.set(text(a.value), { key: a.key, invokeUs: timeUs, supersedes: (a.supersedes ?? []).map(text) })
    if (a.f === "write" && a.type === "ok") writes.get(text(a.value))!.okUs = timeUs
    if (a.f === "read" && a.type === "invoke") invoked.set(a.process, timeUs)
    if (a.f === "read" && a.type === "ok") reads.push({ key: a.key, invokeUs: invoked.get(a.process)!, okUs: timeUs, values: (a.value as Array<unknown>).map(text) })
  }
  const ancestors = (value: string): Set<string> => plainAncestors((of) => writes.get(of)?.supersedes, value)
  const covered = (value: string, values: ReadonlyArray<string>) => values.includes(value) || values.some((other) => ancestors(other).has(value))
  const violations: Array<Violation> = []
  const report = (check: string, message: string, timeUs: number) => {
    if (violations.filter((violation) => violation.check === check).length < REPORTED_MAX) violations.push({ check, message, timeUs })
  }
  for (const [value, write] of writes) {
    const finals = [...stored.values()].flatMap((byKey) => byKey.get(write.key) ?? [])
    if (write.okUs !== undefined && !covered(value, finals)) report("no-lost-write", `key ${write.key}: the write of ${value}, acknowledged at ${write.okUs / 1000} ms, is in no replica and no later write follows it`, endUs)
  }
  const siblings = (values: ReadonlyArray<string>, where: string, timeUs: number) => {
    const left = values.find((candidate) => values.some((right) => ancestors(right).has(candidate)))
    if (left !== undefined) report("siblings", `${where} holds ${left} beside ${values.find((right) => ancestors(right).has(left))}, whose write followed it`, timeUs)
  }
  for (const read of reads) siblings(read.values, `a read of ${read.key} at ${read.okUs / 1000} ms`, read.okUs)
  for (const [node, byKey] of stored) for (const [key, values] of byKey) siblings(values, `${node}'s final state of ${key}`, endUs)
  for (const read of reads) {
    const missed = [...writes].find(([value, write]) =>
      write.key === read.key && write.okUs !== undefined && write.okUs < read.invokeUs && !covered(value, read.values) &&
      !(standIns.get(read.key) ?? []).some((timeUs) => timeUs >= write.invokeUs && timeUs <= read.okUs))
    if (missed !== undefined) report("stale-read", `key ${read.key}: a read from ${read.invokeUs / 1000} ms returned [${read.values.join(",")}], missing the write of ${missed[0]} acknowledged at ${missed[1].okUs! / 1000} ms`, read.okUs)
  }
  return violations
}

describe("the quorum store's checker against a plain reading of its rules", () => {
  it("reports what a direct search of ancestors reports, on generated runs with now and then a fault", () => {
    let violating = 0
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 30 }), fc.integer({ min: 10, max: 400 }), fc.integer({ min: 1, max: 3 }), (seed, operations, keys) => {
        // Set up: a run of the model store.
        let state = seed
        const random = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648
        const { events, endUs } = modelRun(random, operations, keys)

        // Act: the checker judges it.
        const checker = new QuorumStoreChecker({ livenessBoundMs: 1000, ownersOf: () => NODES, convergenceMs: 1000, lastWriterWins: false })
        for (const event of events) checker.onEvent(event)
        checker.finish({ timeUs: endUs, up: NODES })

        // Check: the same violations of the three checks, in the same order.
        const expected = plainViolations(events, endUs)
        if (expected.length > 0) violating++
        expect(checker.violations.filter((violation) => JUDGED.includes(violation.check))).toEqual(expected)
      }),
      { numRuns: 300 }
    )
    // Some runs must break a rule, or the comparison shows only that both say nothing.
    expect(violating).toBeGreaterThan(30)
  })
})
