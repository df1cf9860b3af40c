// The README's quick start shows real output: every line of its sample summary but the wall time is what the command prints today.
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { formatSummary } from "../src/cli/summary.ts"
import { builtinProtocols } from "../src/definition/registry.ts"
import { runScenario } from "../src/sim/run.ts"
import { loadScenario } from "../src/sim/scenario.ts"
import { formatTraceLine, parseTraceLine, TRACE_LINE_FIELDS } from "../src/trace/index.ts"

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

describe("README trace format", () => {
  const section = /## Trace format\n([\s\S]*?)\n## /.exec(readFileSync("README.md", "utf8"))?.[1] ?? ""

  it("lists every kind of line, and only those", () => {
    const kinds = [...section.matchAll(/^\| `([a-z-]+)` \|/gm)].map((match) => match[1]).filter((kind) => kind !== "e")
    expect(kinds.sort()).toEqual(Object.keys(TRACE_LINE_FIELDS).sort())
  })

  it("lists each kind's fields as the schema has them", () => {
    for (const [kind, fields] of Object.entries(TRACE_LINE_FIELDS)) {
      const row = new RegExp(`^\\| \`${kind}\` \\|[^|]*\\|(.*)$`, "m").exec(section)?.[1] ?? ""
      for (const field of fields) expect(row, `the ${kind} row`).toContain(`\`${field.name}\``)
    }
  })

  it("shows example lines that the parser takes and the serializer writes back byte for byte", () => {
    const examples = /```\n(\{[\s\S]*?)\n```/.exec(section)?.[1]?.split("\n") ?? []
    expect(examples.length).toBeGreaterThan(10)
    for (const example of examples) {
      const line = parseTraceLine(example)
      if (typeof line === "string") expect.fail(`${example}: ${line}`)
      expect(formatTraceLine(line)).toBe(example)
    }
  })
})
