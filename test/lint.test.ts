// The determinism rule is enforced by lint: protocol code that touches the world is rejected.
import { ESLint } from "eslint"
import { describe, expect, it } from "vitest"

const eslint = new ESLint()

const ruleIdsFor = async (code: string, filePath: string) => {
  const [result] = await eslint.lintText(code, { filePath })
  return result!.messages.map((message) => message.ruleId)
}

describe("determinism lint", () => {
  it.each([
    ["Date.now()", "export const now = () => Date.now()\n"],
    ["new Date()", "export const now = () => new Date()\n"],
    ["Math.random()", "export const pick = () => Math.random()\n"],
    ["setTimeout", "export const later = (f: () => void) => setTimeout(f, 1)\n"],
    ["performance.now()", "export const now = () => performance.now()\n"],
    ["process.env", "export const home = () => process.env.HOME\n"],
    ["a Promise", "export const wait = () => new Promise((resolve) => resolve(1))\n"],
    ["node:fs", 'import { readFileSync } from "node:fs"\nexport const read = () => readFileSync("x")\n'],
    ["the simulator", 'import { Simulation } from "../../sim/simulation.ts"\nexport const s = Simulation\n']
  ])("rejects %s in src/protocols", async (_, code) => {
    const rules = await ruleIdsFor(code, "src/protocols/example/example.ts")
    expect(rules.some((rule) => rule?.startsWith("no-restricted"))).toBe(true)
  })

  it("allows the same code outside src/protocols", async () => {
    const rules = await ruleIdsFor("export const now = () => Date.now()\n", "src/sim/example.ts")
    expect(rules).toEqual([])
  })
})

describe("world boundary lint", () => {
  it.each([
    ["src/sim/example.ts", "../real/network.ts"],
    ["src/real/example.ts", "../sim/simulation.ts"],
    ["src/check/example.ts", "../sim/simulation.ts"],
    ["src/definition/example.ts", "../real/network.ts"],
    ["src/trace/example.ts", "../sim/simulation.ts"],
    ["src/trace/example.ts", "../real/tracing.ts"],
    ["src/protocols/example/definition.ts", "../../sim/run.ts"]
  ])("rejects %s importing %s", async (file, target) => {
    const rules = await ruleIdsFor(`import { x } from "${target}"\nexport const y = x\n`, file)
    expect(rules).toContain("no-restricted-imports")
  })

  it("allows a world to import the contract and the environment", async () => {
    const code = 'import { x } from "../definition/index.ts"\nimport { y } from "../env/index.ts"\nexport const z = [x, y]\n'
    expect(await ruleIdsFor(code, "src/sim/example.ts")).toEqual([])
    expect(await ruleIdsFor(code, "src/real/example.ts")).toEqual([])
  })
})
