// The README's quick start shows real output: every line of its sample summary but the wall time is what the command prints today.
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { formatSummary } from "../src/cli/summary.ts"
import { builtinProtocols } from "../src/definition/registry.ts"
import { runScenario } from "../src/sim/run.ts"
import { loadScenario } from "../src/sim/scenario.ts"

/** Lines of a summary without the wall-clock line, which differs from run to run. */
const withoutWall = (text: string): Array<string> => text.split("\n").filter((line) => !line.startsWith("  wall "))

describe("README quick start", () => {
  it("shows the summary that the quick-start command prints, trace hash and all", () => {
    const readme = readFileSync("README.md", "utf8")
    expect(readme).toContain("npm ci && npx faultline run scenarios/causal-broadcast-partitions.yaml")
    const sample = /It prints a summary like this:\n\n```\n([\s\S]*?)\n```/.exec(readme)?.[1]
    expect(sample, "the README's sample summary").toBeDefined()
    const result = runScenario(loadScenario("scenarios/causal-broadcast-partitions.yaml"), { protocols: builtinProtocols })
    expect(withoutWall(sample!)).toEqual(withoutWall(formatSummary(result)))
    expect(result.ok).toBe(true)
  })
})
