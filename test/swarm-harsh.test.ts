// Harsh seeds: a share of a swarm's seeds draw every straining ingredient together (bounces, a slow
// network, each knob from the values its protocol declares the most straining), the others as before.
import { describe, expect, it } from "vitest"
import type { Knob, KnobValues } from "../src/definition/protocol.ts"
import { builtinProtocols } from "../src/definition/registry.ts"
import { loadScenario } from "../src/sim/scenario.ts"
import { describeDraw, swarmScenario } from "../src/sim/swarm-faults.ts"
import { knobAllows } from "../src/sim/swarm-knobs.ts"

const seeds = Array.from({ length: 90 }, (_, index) => index + 1)

/** Whether a drawn value lies in the knob's `stress` values (every value, when it declares none). */
const stressed = (knob: Knob, value: KnobValues[string] | undefined): boolean => {
  switch (knob._tag) {
    case "Flag":
      return knob.stress === undefined || value === knob.stress
    case "Integer":
      return knob.stress === undefined || (typeof value === "number" && value >= knob.stress[0] && value <= knob.stress[1])
    case "OneOf":
      return knob.stress === undefined || (value !== undefined && typeof value !== "boolean" && knob.stress.includes(value))
    default: {
      const unreachable: never = knob
      throw new Error(`unknown knob ${JSON.stringify(unreachable)}`)
    }
  }
}

describe("harsh seeds", () => {
  for (const file of ["scenarios/raft-random-faults.yaml", "scenarios/causal-broadcast-crashes.yaml"]) {
    it(`${file}: about a third of the seeds are harsh, and each draws bounces, a slow network and stressed knobs`, () => {
      // Set up and act: ninety seeds of a shipped scenario.
      const scenario = loadScenario(file)
      const protocol = builtinProtocols.get(scenario.protocol)!
      const knobs = [...(protocol.knobs ?? []), ...(protocol.workloadKnobs ?? [])]
      const draws = seeds.map((seed) => swarmScenario(scenario, seed, builtinProtocols).draw)

      // Check: a share of harsh seeds near a third; each has every ingredient, within each knob's values.
      const harsh = draws.filter((draw) => draw.harsh)
      expect(harsh.length).toBeGreaterThan(15)
      expect(harsh.length).toBeLessThan(45)
      expect(knobs.some((knob) => knob.stress !== undefined)).toBe(true)
      for (const draw of harsh) {
        expect(draw.random.bounces.ratePerSecond).toBeGreaterThan(0)
        expect(draw.slowLatencyMsMax).toBeGreaterThan(0)
        expect(describeDraw(draw)).toMatch(/^harsh: /)
        for (const knob of knobs) {
          const value = { ...draw.knobs, ...draw.workload }[knob.name]
          expect(knobAllows(knob, value), `${knob.name} = ${String(value)}`).toBe(true)
          expect(stressed(knob, value), `${knob.name} = ${String(value)}`).toBe(true)
        }
      }

      // Check: the other seeds still draw outside the stress values, and some skip bounces.
      const others = draws.filter((draw) => !draw.harsh)
      expect(others.some((draw) => draw.random.bounces.ratePerSecond === 0)).toBe(true)
      expect(others.some((draw) => describeDraw(draw).startsWith("harsh"))).toBe(false)
      for (const knob of knobs.filter((candidate) => candidate.stress !== undefined)) {
        expect(others.some((draw) => !stressed(knob, { ...draw.knobs, ...draw.workload }[knob.name])), knob.name).toBe(true)
      }
    })
  }
})
