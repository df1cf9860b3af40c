// Raft's durable state on the env Storage service: what a restart recovers, and that the log's
// entry offsets stay exact across restarts, truncations and torn tails.
import { Effect } from "effect"
import { storageOf } from "./fixtures/disk-storage.ts"
import { describe, expect, it } from "vitest"
import { disabledSpans, encodeText, Storage, StorageError, Tracing } from "../src/env/index.ts"
import { checksummedLine } from "../src/protocols/raft/checksum.ts"
import { makeDurableState } from "../src/protocols/raft/durable-state.ts"
import { type Entry, newRaft, type Ready } from "../src/protocols/raft/index.ts"
import { testConfig } from "../src/protocols/raft/testing.ts"
import { SimulatedDisk } from "../src/sim/disk.ts"
import { builtinProtocols } from "../src/definition/registry.ts"
import { runScenario } from "../src/sim/run.ts"
import { loadScenario } from "../src/sim/scenario.ts"
import { RandomStream } from "../src/sim/random-streams.ts"
import { parseKeptTrace } from "./fixtures/trace.ts"

/**
 * The same, but the disk "crashes" at the `crashAt`-th change or sync: that call and every later
 * one fails without touching the disk, as if the process had died there.
 */
const crashingStorageOf = (disk: SimulatedDisk, crashAt: number): Storage["Service"] => {
  let calls = 0
  const change = <A>(file: string, run: () => A) =>
    Effect.suspend(() => (calls++ >= crashAt ? Effect.fail(new StorageError({ file, reason: "crashed" })) : Effect.sync(run)))
  return Storage.of({
    ...storageOf(disk),
    write: (file, data) => change(file, () => disk.write(file, data)),
    append: (file, data) => change(file, () => disk.append(file, data)),
    truncate: (file, size) => change(file, () => disk.truncate(file, size)),
    remove: (file) => change(file, () => disk.remove(file)),
    sync: (file) => change(file, () => disk.sync(file))
  })
}

const entry = (index: number, term: number, value = index): Entry => ({
  index,
  term,
  command: { _tag: "Kv", clientId: "c1", sequence: value, operation: { _tag: "Put", key: "k", value: `v${value}` } }
})

const ready = (fields: Partial<Ready>): Ready => ({ entries: [], messages: [], committedEntries: [], readStates: [], ...fields })

const silentTracing = Tracing.of({ event: () => Effect.void, span: (_name, _attributes, effect) => effect, spans: disabledSpans })

/** Restarts on `disk`: a fresh durable state recovers; returns it with what it recovered and its trace events. */
const restart = (disk: SimulatedDisk) => {
  const events: Array<string> = []
  const tracing = Tracing.of({
    event: (name) => Effect.sync(() => void events.push(name)),
    span: (_name, _attributes, effect) => effect, spans: disabledSpans
  })
  const durable = makeDurableState(storageOf(disk))
  const { restored } = Effect.runSync(Effect.provideService(durable.recover, Tracing, tracing))
  return { durable, restored, events }
}

describe("raft durable state", () => {
  it("a clean restart keeps exact offsets: a later truncation cuts at an entry boundary (Reference: §5.3, Figure 2 persistent state)", () => {
    // Set up: five entries and a vote, persisted and synced; then a crash and a clean restart.
    const disk = new SimulatedDisk()
    const first = makeDurableState(storageOf(disk))
    Effect.runSync(first.persist(ready({ entries: [1, 2, 3, 4, 5].map((index) => entry(index, 1)), hardState: { term: 1, votedFor: "n1", commitIndex: 0 } })))
    disk.crash({ tornWrite: false }, new RandomStream(1, "disk"))
    const second = restart(disk)
    expect(second.restored.entries.map((item) => item.index)).toEqual([1, 2, 3, 4, 5])
    expect(second.restored.hardState).toEqual({ term: 1, votedFor: "n1", commitIndex: 0 })
    // Act: a new leader's entries replace 3..5 with 3..4 of term 2; then another restart.
    Effect.runSync(second.durable.persist(ready({ truncateFrom: 3, entries: [entry(3, 2, 30), entry(4, 2, 40)] })))
    disk.crash({ tornWrite: false }, new RandomStream(1, "disk"))
    const third = restart(disk)
    // Check: entries 1, 2 of term 1 survive, then the two new ones; nothing torn.
    expect(third.restored.entries.map((item) => [item.index, item.term])).toEqual([[1, 1], [2, 1], [3, 2], [4, 2]])
    expect(third.events).toEqual([])
  })

  it("a torn tail is cut and reported; appends after it land at the right offsets (Reference: §5.3)", () => {
    const disk = new SimulatedDisk()
    const first = makeDurableState(storageOf(disk))
    Effect.runSync(first.persist(ready({ entries: [entry(1, 1), entry(2, 1)] })))
    // A crash tore the next line: half of entry 3 is on disk.
    const line = checksummedLine(JSON.stringify(entry(3, 1)))
    disk.append("raft-log", encodeText(line.slice(0, 20)))
    disk.sync("raft-log")
    const second = restart(disk)
    expect(second.restored.entries.map((item) => item.index)).toEqual([1, 2])
    expect(second.events).toEqual(["tornTail"])
    Effect.runSync(second.durable.persist(ready({ entries: [entry(3, 2), entry(4, 2)] })))
    Effect.runSync(second.durable.persist(ready({ truncateFrom: 4, entries: [entry(4, 3)] })))
    const third = restart(disk)
    expect(third.restored.entries.map((item) => [item.index, item.term])).toEqual([[1, 1], [2, 1], [3, 2], [4, 3]])
  })
})

describe("raft durable state across a crash in the middle of a Ready", () => {
  it("a crash between any two storage calls of a Ready leaves a state a restart accepts (Reference: Figure 2, persistent state)", () => {
    // A follower of term 1 with entries 1..3 gets the first AppendEntries of a term-2 leader: one
    // Ready raises the term and brings entries of term 2, and a commitIndex covering them.
    const term2 = ready({ hardState: { term: 2, votedFor: null, commitIndex: 5 }, entries: [entry(4, 2), entry(5, 2)] })
    const ids = ["n1", "n2", "n3"]
    let cuts = 0
    for (let crashAt = 0; crashAt < 20; crashAt++) {
      const disk = new SimulatedDisk()
      Effect.runSync(
        makeDurableState(storageOf(disk)).persist(
          ready({ hardState: { term: 1, votedFor: "n1", commitIndex: 3 }, entries: [1, 2, 3].map((index) => entry(index, 1)) })
        )
      )
      const follower = makeDurableState(crashingStorageOf(disk, crashAt))
      Effect.runSync(Effect.provideService(follower.recover, Tracing, silentTracing))
      const exit = Effect.runSyncExit(follower.persist(term2))
      if (exit._tag === "Failure") expect(String(exit.cause)).toContain("StorageError")
      if (exit._tag === "Success") break
      cuts++
      disk.crash({ tornWrite: false }, new RandomStream(crashAt, "disk"))
      // Check: the restart recovers, and the Raft core accepts what it recovered.
      const { restored } = restart(disk)
      expect(() => newRaft(testConfig("n2", ids), restored), `crash at call ${crashAt}`).not.toThrow()
    }
    // The Ready made several storage calls, so several cut points were tried.
    expect(cuts).toBeGreaterThanOrEqual(4)
  })
})

describe("raft server on a failing disk", () => {
  it("every injected disk error stops its server, wherever it struck (tick or message), and is reported", () => {
    const scenario = loadScenario("test/fixtures/raft-disk-errors.yaml")
    let errors = 0
    for (let seed = 1; seed <= 8; seed++) {
      const result = runScenario(scenario, { seed, keepTrace: true, protocols: builtinProtocols })
      const struck = parseKeptTrace(result.traceLines).flatMap((line) => (line.e === "disk-error" ? [line.node] : []))
      const failed = result.checks.find((check) => check.name === "node-failed")!.violations.map((violation) => violation.message)
      // Check: one node-failed per error, naming the node and the storage error.
      expect(failed, `seed ${seed}`).toHaveLength(struck.length)
      for (const [position, node] of struck.entries()) expect(failed[position]).toMatch(new RegExp(`^node ${node} failed: StorageError on raft-`))
      errors += struck.length
    }
    expect(errors).toBeGreaterThan(0)
  })
})
