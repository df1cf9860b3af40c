// `npm run check:scenarios`: every shipped scenario, seeds 1..N (default 20), each run twice with the determinism audit.
// Too long for `npm test`; run it before a release or after touching a protocol.
import { readdirSync } from "node:fs"
import { checkDeterminism } from "../src/sim/determinism.ts"
import { builtinProtocols } from "../src/definition/registry.ts"
import { loadScenario } from "../src/sim/scenario.ts"

/** Lesson scenarios fail one check by design (explained in the file); every other check must hold. */
const LESSONS: ReadonlyMap<string, string> = new Map([["quorum-stale-reads.yaml", "stale-read"]])

const seeds = Number(process.argv[2] ?? "20")
const filter = process.argv[3] ?? ""
let failures = 0
const started = performance.now()
for (const name of readdirSync("scenarios").filter((file) => file.endsWith(".yaml") && file.includes(filter)).sort()) {
  const scenario = loadScenario(`scenarios/${name}`)
  const bad: Array<string> = []
  const scenarioStarted = performance.now()
  for (let seed = 1; seed <= seeds; seed++) {
    const report = checkDeterminism(scenario, { seed, protocols: builtinProtocols })
    if (report.divergence !== undefined) bad.push(`seed ${seed}: traces diverge at line ${report.divergence.index + 1}`)
    const lesson = LESSONS.get(name)
    for (const check of report.first.checks) {
      if (check.name === lesson) continue
      if (!check.ok) bad.push(`seed ${seed}: ${check.name}: ${check.violations[0]?.message ?? ""}`)
    }
    if (lesson !== undefined && report.first.checks.find((check) => check.name === lesson)?.ok !== false) {
      bad.push(`seed ${seed}: ${lesson} holds, but this lesson scenario exists to show it fail`)
    }
  }
  failures += bad.length
  const seconds = ((performance.now() - scenarioStarted) / 1000).toFixed(1)
  console.log(`${bad.length === 0 ? "✓" : "✗"} ${name}: seeds 1..${seeds}, deterministic and every check holding (${seconds} s)`)
  for (const line of bad) console.log(`    ${line}`)
}
console.log(`\n${failures === 0 ? "all scenarios pass" : `${failures} problems`} in ${((performance.now() - started) / 1000).toFixed(0)} s`)
process.exitCode = failures === 0 ? 0 : 1
