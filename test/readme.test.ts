// The README's quick start shows real output: its trace hash is the one the command prints today.
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { builtinProtocols } from "../src/sim/registry.ts"
import { runScenario } from "../src/sim/run.ts"
import { loadScenario } from "../src/sim/scenario.ts"

describe("README quick start", () => {
  it("shows the trace hash that the quick-start command prints", () => {
    const readme = readFileSync("README.md", "utf8")
    expect(readme).toContain("npm ci && npx faultline run scenarios/causal-broadcast-partitions.yaml")
    const shown = /trace hash\s+([0-9a-f]{64})/.exec(readme)?.[1]
    const result = runScenario(loadScenario("scenarios/causal-broadcast-partitions.yaml"), { protocols: builtinProtocols })
    expect(shown).toBe(result.traceHash)
    expect(result.ok).toBe(true)
  })
})
