// Tests that the linearizability checker shares its work fairly across keys (one hard key does not
// hold up a plainly violated one) and keeps its memory within the stated budget.

import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { generateHistory, hardKeyEvents, staleReadEvents } from "../src/check/history-generator.ts"
import { type HistoryEvent, type Operation, operationsFromEvents } from "../src/check/history.ts"
import { checkLinearizability, checkLinearizabilityMeasured, type LinearizabilityOptions } from "../src/check/linearizability.ts"

type Event = Omit<HistoryEvent, "index">

/** Orders events by time (invokes first on ties, as the generator does) and numbers them. */
const operationsOf = (events: ReadonlyArray<Event>): ReadonlyArray<Operation> => {
  const rank = (event: Event): number => (event.type === "invoke" ? 0 : 1)
  const ordered = [...events].sort((left, right) => left.time - right.time || rank(left) - rank(right) || left.process - right.process)
  const parsed = operationsFromEvents(
    ordered.map((event, index) => ({ index, ...event })),
    "test"
  )
  if (parsed._tag === "ParseError") throw new Error(parsed.message)
  return parsed.operations
}

/** A fake clock that advances 1 ms each time it is read: the search reads it once per 2,048 steps, so budgets become step counts. */
const stepClock = (): (() => number) => {
  let clockMs = 0
  return () => clockMs++
}

describe("checkLinearizability shares its work fairly across keys", () => {
  it("rejects a hard linearizable key plus a stale read within 1 s, naming the stale key as it alone would be", () => {
    // Set up: the hard key ("k0") sorts before the violated one, so it would be searched first.
    const alone = checkLinearizability(operationsOf(staleReadEvents), { timeBudgetMs: 60_000 })
    const history = operationsOf([...hardKeyEvents(), ...staleReadEvents])
    // Act.
    const startMs = performance.now()
    const result = checkLinearizability(history, { timeBudgetMs: 60_000 })
    const elapsedMs = performance.now() - startMs
    // Check: the same verdict, witness and explanation as the stale key on its own, and quickly
    // (it takes about 40 ms; the bound is the one the issue states, generous for a loaded machine).
    expect(result._tag).toBe("NotLinearizable")
    if (result._tag !== "NotLinearizable" || alone._tag !== "NotLinearizable") throw new Error("expected both to be rejected")
    expect(result.key).toBe("stale")
    expect(result.operations.map((operation) => operation.callTimeNs)).toEqual([10, 30, 50])
    expect(result.explanation).toBe(alone.explanation)
    expect(elapsedMs).toBeLessThan(1000)
  })

  it("gives the hard key only the first slice of steps before the stale key is decided", () => {
    // Set up: the hard key alone is still undecided after about 200,000 steps.
    const hardAlone = checkLinearizabilityMeasured(operationsOf(hardKeyEvents()), { timeBudgetMs: 100, now: stepClock() })
    expect(hardAlone.result._tag).toBe("Unknown")
    expect(hardAlone.statistics.steps).toBeGreaterThan(150_000)
    const staleAlone = checkLinearizabilityMeasured(operationsOf(staleReadEvents), { timeBudgetMs: 100, now: stepClock() })
    // Act.
    const both = checkLinearizabilityMeasured(operationsOf([...hardKeyEvents(), ...staleReadEvents]), { timeBudgetMs: 100, now: stepClock() })
    // Check: one round, in which the hard key had its first slice (4,096 steps) and no more.
    expect(both.result._tag).toBe("NotLinearizable")
    expect(both.statistics.rounds).toBe(1)
    expect(both.statistics.steps - staleAlone.statistics.steps).toBeLessThanOrEqual(4096)
  })

  it("still decides every key, whatever order their difficulties come in", () => {
    // Set up: a key that needs several rounds, and easy keys before and after it.
    const hard = generateHistory({ seed: 2, operations: 400, clients: 10, keys: 1, infoProbability: 0.3 })
    const renamed = (key: string): Event[] => hard.map(({ index: _index, ...event }) => ({ ...event, key }))
    const easy = (key: string, process: number): Event[] => [
      { process, type: "invoke", f: "write", key, value: 1, time: 0 },
      { process, type: "ok", f: "write", key, value: 1, time: 5 }
    ]
    // Act.
    const history = operationsOf([...easy("a", 900), ...renamed("m"), ...easy("z", 901)])
    const measured = checkLinearizabilityMeasured(history, { timeBudgetMs: 60_000 })
    // Check: linearizable, after more than one round (so keys really were resumed).
    expect(measured.result._tag).toBe("Linearizable")
    expect(measured.statistics.rounds).toBeGreaterThan(1)
  })
})

describe("checkLinearizability keeps its memory within its budget", () => {
  /** A hard 2,000-operation history: 40 clients on one register, 30% `info`. */
  const history2000 = operationsOf(
    generateHistory({ seed: 1, operations: 2000, clients: 40, keys: 1, infoProbability: 0.3 }).map(({ index: _index, ...event }) => event)
  )
  // About a million search steps, the same in every run.
  const options = (memoryBudgetBytes: number): LinearizabilityOptions => ({ timeBudgetMs: 500, now: stepClock(), memoryBudgetBytes })

  it("holds a 2,000-operation check to a 2 MiB budget that the same search would otherwise outgrow", () => {
    // Act.
    const capped = checkLinearizabilityMeasured(history2000, options(2 * 1024 * 1024))
    const uncapped = checkLinearizabilityMeasured(history2000, options(1024 * 1024 * 1024))
    // Check: the same steps; without the cap the memo grows past 4 MiB, with it the memo starts over instead.
    expect(history2000).toHaveLength(2000)
    expect(capped.statistics.steps).toBe(uncapped.statistics.steps)
    expect(uncapped.statistics.memoryPeakBytes).toBeGreaterThan(4 * 1024 * 1024)
    expect(capped.statistics.memoryPeakBytes).toBeLessThanOrEqual(2 * 1024 * 1024)
    expect(capped.statistics.memoFlushes).toBeGreaterThan(0)
    expect(capped.result._tag).toBe("Unknown")
    if (capped.result._tag === "Unknown") expect(capped.result.reason).toContain("filled the memory budget of 2 MiB")
  })

  it("states its default budget, 64 MiB, and stays within it", () => {
    const measured = checkLinearizabilityMeasured(history2000, { timeBudgetMs: 200, now: stepClock() })
    expect(measured.statistics.memoryBudgetBytes).toBe(64 * 1024 * 1024)
    expect(measured.statistics.memoryPeakBytes).toBeGreaterThan(0)
    expect(measured.statistics.memoryPeakBytes).toBeLessThanOrEqual(measured.statistics.memoryBudgetBytes)
  })

  it("gives up on a list key whose orders of appends outgrow the budget, rather than grow without bound", () => {
    // Set up: 14 concurrent appends of long elements, then a read of a value no one wrote. Every
    // order of the appends is a different list, so the search builds lists until the budget ends.
    const element = (index: number): string => `${index}`.padStart(200, "x")
    const appends = Array.from({ length: 14 }, (_, index): Event[] => [
      { process: index, type: "invoke", f: "append", key: "list", value: element(index), time: index },
      { process: index, type: "ok", f: "append", key: "list", value: element(index), time: 100 + index }
    ]).flat()
    const read: Event[] = [
      { process: 99, type: "invoke", f: "read", key: "list", value: null, time: 200 },
      { process: 99, type: "ok", f: "read", key: "list", value: 5, time: 210 }
    ]
    // Act.
    const measured = checkLinearizabilityMeasured(operationsOf([...appends, ...read]), { timeBudgetMs: 60_000, memoryBudgetBytes: 1024 * 1024 })
    // Check: unknown for want of memory, having overshot the budget by at most what 2,048 steps add.
    expect(measured.result._tag).toBe("Unknown")
    if (measured.result._tag === "Unknown") expect(measured.result.reason).toContain('the values key "list" can hold outgrew the memory budget')
    expect(measured.statistics.memoryPeakBytes).toBeLessThan(1024 * 1024 + 2048 * 14 * 500)
  })

  it("accepts generated register histories with a memo that must keep starting over (property)", () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: 50, max: 300 }), fc.integer({ min: 2, max: 8 }), (seed, operations, clients) => {
        const history = operationsOf(
          generateHistory({ seed, operations, clients, keys: 1, infoProbability: 0.3 }).map(({ index: _index, ...event }) => event)
        )
        return checkLinearizability(history, { timeBudgetMs: 60_000, memoryBudgetBytes: 16 * 1024 })._tag === "Linearizable"
      }),
      { numRuns: 40 }
    )
  })
})
