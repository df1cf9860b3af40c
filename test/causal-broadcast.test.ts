// Reliable causal broadcast holds under arbitrary fault schedules, and a planted ordering bug is caught.
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { DeliverableRule } from "../src/protocols/causal-broadcast/index.ts"
import * as VectorClock from "../src/protocols/clocks/vector-clock.ts"
import { faultScheduleArbitrary } from "../src/sim/arbitraries.ts"
import { causalBroadcastProtocol } from "../src/protocols/causal-broadcast/definition.ts"
import { builtinProtocols } from "../src/definition/registry.ts"
import { runScenario } from "../src/sim/run.ts"
import { loadScenario, serverIds } from "../src/sim/scenario.ts"
import { forgetOthers } from "./fixtures/broadcast-bugs.ts"
import { smallBroadcastScenario } from "./fixtures/scenarios.ts"

describe("vector clocks", () => {
  it("compare tells before, after, equal and concurrent", () => {
    expect(VectorClock.compare({ a: 1 }, { a: 2 })).toBe("before")
    expect(VectorClock.compare({ a: 2, b: 1 }, { a: 2 })).toBe("after")
    expect(VectorClock.compare({ a: 1, b: 0 }, { a: 1 })).toBe("equal")
    expect(VectorClock.compare({ a: 1 }, { b: 1 })).toBe("concurrent")
  })

  it("merge is the least upper bound", () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom("a", "b", "c"), fc.nat(9)),
        fc.dictionary(fc.constantFrom("a", "b", "c"), fc.nat(9)),
        (left, right) => {
          const merged = VectorClock.merge(left, right)
          expect(VectorClock.lessOrEqual(left, merged)).toBe(true)
          expect(VectorClock.lessOrEqual(right, merged)).toBe(true)
          for (const key of Object.keys(merged)) {
            expect(merged[key]).toBe(Math.max(VectorClock.entry(left, key), VectorClock.entry(right, key)))
          }
        }
      )
    )
  })
})

describe("causal broadcast", () => {
  it("delivers every message in causal order over arbitrary fault schedules", () => {
    const base = smallBroadcastScenario()
    fc.assert(
      fc.property(
        faultScheduleArbitrary({ nodes: serverIds(base.nodes), durationMs: base.durationMs, maxFaults: 10 }),
        fc.integer({ min: 1, max: 1_000_000 }),
        (faults, seed) => {
          // Set up: the small scenario with the generated faults on top of a lossy network.
          const scenario = { ...base, scheduled: faults }
          // Act.
          const result = runScenario(scenario, { seed, protocols: builtinProtocols })
          // Check: every rule holds, including eventual delivery after the liveness phase.
          const failed = result.checks.filter((check) => !check.ok)
          expect(failed.map((check) => `${check.name}: ${check.violations[0]?.message}`)).toEqual([])
        }
      ),
      { numRuns: 60 }
    )
  })

  it("catches a variant that delivers without waiting for causal dependencies", () => {
    // Set up: the planted bug keeps per-origin FIFO order but ignores dependencies on other origins.
    const fifoOnly: DeliverableRule = (state, message) =>
      message.sequence === VectorClock.entry(state.delivered, message.origin) + 1
    const buggy = causalBroadcastProtocol("causal-broadcast", fifoOnly)
    const protocols = new Map([["causal-broadcast", buggy]])
    const scenario = smallBroadcastScenario()
    // Act: run seeds until one fails (reordering makes that quick).
    const failing = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
      .map((seed) => runScenario(scenario, { seed, protocols }))
      .filter((result) => !result.ok)
    // Check: the causal-order rule is the one that caught it, with a message naming the missing dependency.
    expect(failing.length).toBeGreaterThan(0)
    const violated = failing[0]!.checks.find((check) => check.name === "causal-order")!
    expect(violated.ok).toBe(false)
    expect(violated.violations[0]!.message).toMatch(/delivered n\d#\d+ before n\d#\d+, which it depends on/)
  })

  it("judges a message's causal past by what its origin delivered, not by what the message declares", () => {
    // Set up: the planted bug declares only its origin's own earlier messages as dependencies, so
    // receivers wait for too little; checked against the declared dependencies, it would pass.
    const protocols = new Map([["causal-broadcast", causalBroadcastProtocol("causal-broadcast", undefined, { shapeBroadcast: forgetOthers })]])
    const scenario = loadScenario("scenarios/causal-broadcast-partitions.yaml")
    // Act.
    const results = [1, 2, 3].map((seed) => runScenario(scenario, { seed, protocols }))
    // Check: each seed breaks causal order with a message its origin had delivered before it sent;
    // the correct protocol passes the same seeds.
    for (const result of results) {
      const violated = result.checks.find((check) => check.name === "causal-order")!
      expect(violated.ok).toBe(false)
      expect(violated.violations[0]!.message).toMatch(/delivered n\d#\d+ before n\d#\d+, which it depends on/)
    }
    for (const seed of [1, 2, 3]) expect(runScenario(scenario, { seed, protocols: builtinProtocols }).ok).toBe(true)
  })

  it.each([1, 2])("delivers every message on twenty nodes under partitions and crashes (seed %i)", (seed) => {
    // Set up: twenty nodes, where anti-entropy must bring a lagging node what it can deliver next.
    const scenario = loadScenario("scenarios/causal-broadcast-twenty-nodes.yaml")
    // Act.
    const result = runScenario(scenario, { seed, protocols: builtinProtocols })
    // Check: every rule holds, eventual delivery included, and the run really had faults.
    const failed = result.checks.filter((check) => !check.ok)
    expect(failed.map((check) => `${check.name}: ${check.violations[0]?.message}`)).toEqual([])
    expect(result.faults.length).toBeGreaterThan(5)
  })

  it("catches a variant that never retransmits (eventual delivery)", () => {
    const scenario = smallBroadcastScenario({ options: { syncIntervalMs: 1_000_000 } })
    const result = runScenario(scenario, { seed: 3, protocols: builtinProtocols })
    const eventual = result.checks.find((check) => check.name === "eventual-delivery")!
    expect(eventual.ok).toBe(false)
    expect(eventual.violations[0]!.message).toMatch(/never delivered/)
  })
})
