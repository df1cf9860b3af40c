// Raft's durable state on the env Storage service: what a restart recovers, and that the log's
// entry offsets stay exact across restarts, truncations and torn tails.
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { encodeText, Storage, Tracing } from "../src/env/index.ts"
import { makeDurableState } from "../src/protocols/raft/durable-state.ts"
import type { Entry, Ready } from "../src/protocols/raft/index.ts"
import { SimulatedDisk } from "../src/sim/disk.ts"
import { RandomStream } from "../src/sim/random-streams.ts"

/** A Storage service straight over a simulated disk (the simulator's own adds faults and timing). */
const storageOf = (disk: SimulatedDisk): Storage["Service"] =>
  Storage.of({
    read: (file) => Effect.sync(() => disk.read(file)),
    write: (file, data) => Effect.sync(() => disk.write(file, data)),
    append: (file, data) => Effect.sync(() => disk.append(file, data)),
    truncate: (file, size) => Effect.sync(() => disk.truncate(file, size)),
    remove: (file) => Effect.sync(() => disk.remove(file)),
    sync: (file) => Effect.sync(() => disk.sync(file)),
    list: Effect.sync(() => disk.list())
  })

const entry = (index: number, term: number, value = index): Entry => ({
  index,
  term,
  command: { _tag: "Kv", clientId: "c1", sequence: value, operation: { _tag: "Put", key: "k", value: `v${value}` } }
})

const ready = (fields: Partial<Ready>): Ready => ({ entries: [], messages: [], committedEntries: [], readStates: [], ...fields })

/** Restarts on `disk`: a fresh durable state recovers; returns it with what it recovered and its trace events. */
const restart = (disk: SimulatedDisk) => {
  const events: Array<string> = []
  const tracing = Tracing.of({
    event: (name) => Effect.sync(() => void events.push(name)),
    span: (_name, _attributes, effect) => effect
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
    const line = JSON.stringify(entry(3, 1)) + "\n"
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
