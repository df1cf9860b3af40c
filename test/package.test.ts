// The package as a user gets it: packed, installed into a fresh project, imported, type-checked and run; and --protocols load errors.
import { spawnSync, type SpawnSyncReturns } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const root = fileURLToPath(new URL("..", import.meta.url))

/** Runs a command to completion; npm and npx are found on the PATH, as a user's shell finds them. */
const run = (command: string, args: ReadonlyArray<string>, cwd: string): SpawnSyncReturns<string> =>
  spawnSync(command, args, { cwd, encoding: "utf8", env: { ...plainEnvironment, npm_config_update_notifier: "false" } })

/** This process's environment without forced colours, so that output can be matched as text. */
const plainEnvironment: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries({ ...process.env, NO_COLOR: "1" }).filter(([name]) => name !== "FORCE_COLOR")
)

/** Fails with the command's own output, so a broken install or build says why. */
const succeeded = (result: SpawnSyncReturns<string>, what: string): SpawnSyncReturns<string> => {
  if (result.status !== 0) throw new Error(`${what} exited ${result.status}:\n${result.stdout}\n${result.stderr}`)
  return result
}

/** The version of a dependency installed here, so the consumer gets the same one from npm's cache. */
const installedVersion = (name: string): string =>
  (JSON.parse(readFileSync(join(root, "node_modules", name, "package.json"), "utf8")) as { version: string }).version

/** The README's example files, exactly as shown (test/library-api.test.ts checks they match the suite's own). */
const readmeFile = (name: string): string => {
  const readme = readFileSync(join(root, "README.md"), "utf8")
  const block = new RegExp("`" + name.replaceAll(".", "\\.") + "`:\\n\\n```ts\\n([\\s\\S]*?)```").exec(readme)
  if (block === null) throw new Error(`README.md shows no \`${name}\``)
  return block[1]!
}

/**
 * A consumer's strict, NodeNext tsconfig with no @types and no flag of ours. It skips checking
 * declaration files, as `tsc --init` does (checking Effect's takes most of a minute), so a test
 * below reads ours for Node types they must not need.
 */
const consumerTsconfig = {
  compilerOptions: {
    target: "ES2022",
    module: "nodenext",
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: []
  },
  include: ["consumer.ts"]
}

/** A consumer file touching the public types that cross the boundary: Effect programs and fast-check arbitraries. */
const consumerSource = `import { Effect } from "effect"
import fc from "fast-check"
import { faultScheduleArbitrary, Network, type NodeProgram, serverIds, simulate, type SimulationResult } from "faultline"

const nodes = serverIds(3)
const echo: NodeProgram = Effect.gen(function*() {
  const network = yield* Network
  while (true) {
    const { from, message } = yield* network.receive
    yield* network.send(from, message)
  }
})
const faults: fc.Arbitrary<ReadonlyArray<unknown>> = faultScheduleArbitrary({ nodes, durationMs: 1_000, maxFaults: 2 })
const result: SimulationResult = simulate({ seed: 1, nodes: 3, node: () => echo, durationMs: 100 })
export const ok: boolean = result.ok && faults !== undefined
`

describe("the npm package", () => {
  let work = ""
  let consumer = ""
  let packed: Array<{ path: string; size: number }> = []
  let tarballBytes = 0

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "faultline-package-"))
    // The suite's global setup built dist/ (test/global-setup.ts), so the pack need not build again.
    const pack = succeeded(run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", work], root), "npm pack")
    const [report] = JSON.parse(pack.stdout) as Array<{ filename: string; size: number; files: Array<{ path: string; size: number }> }>
    packed = report!.files
    tarballBytes = report!.size
    consumer = join(work, "consumer")
    mkdirSync(consumer)
    writeFileSync(join(consumer, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }, null, 2))
    const dependencies = ["effect", "fast-check", "vitest", "typescript"].map((name) => `${name}@${installedVersion(name)}`)
    succeeded(
      run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", join(work, report!.filename), ...dependencies], consumer),
      "npm install in the consumer project"
    )
  }, 180_000)

  // Removing the consumer's node_modules takes seconds on a busy machine.
  afterAll(() => {
    if (work !== "") rmSync(work, { recursive: true, force: true })
  }, 60_000) // The consumer's node_modules holds the OpenTelemetry SDK too: thousands of files to remove on a busy disk.

  it("ships what a user needs and no tests or benchmarks", () => {
    const paths = packed.map((file) => file.path)
    expect(paths).toContain("dist/index.js")
    expect(paths).toContain("dist/index.d.ts")
    expect(paths).toContain("dist/cli/main.js")
    expect(paths).toContain("dist/cli/swarm-worker-entry.js")
    expect(paths).toContain("bin/faultline.js")
    expect(paths).toContain("scenarios/raft-figure-8.yaml")
    expect(paths).toContain("README.md")
    expect(paths.filter((path) => /^(test|bench|scripts|src)\//.test(path))).toEqual([])
    expect(paths.filter((path) => /tsconfig|eslint|vitest/.test(path))).toEqual([])
    // A bound to notice a pack that suddenly grows (it is about 0.2 MB today).
    expect(tarballBytes).toBeLessThan(1_000_000)
  })

  it("runs the README's counter example with the consumer's vitest", () => {
    writeFileSync(join(consumer, "counter.ts"), readmeFile("counter.ts"))
    writeFileSync(join(consumer, "counter.test.ts"), readmeFile("counter.test.ts"))
    const result = run("npx", ["vitest", "run", "counter.test.ts"], consumer)
    expect(result.stdout + result.stderr).toMatch(/Tests\s+\S*2 passed/)
    expect(result.status).toBe(0)
  }, 60_000)

  it("is importable from plain node, with no TypeScript loader", () => {
    const script = `import("faultline").then((m) => console.log(["simulate", "assertProperty", "faultScheduleArbitrary", "Network", "serverIds"].map((name) => name + ":" + typeof m[name]).join(" ")))`
    const result = run(process.execPath, ["-e", script], consumer)
    expect(result.stderr).toBe("")
    expect(result.stdout.trim()).toBe("simulate:function assertProperty:function faultScheduleArbitrary:function Network:function serverIds:function")
    expect(result.status).toBe(0)
  })

  it("can be require()d from CommonJS, and a protocols module compiled as CommonJS may import it", () => {
    // A project made with `npm init` is CommonJS; tsx compiles its .ts files so, and an import
    // of faultline becomes a require. Node 20.19 requires ES modules, if none awaits at the top.
    const cjs = join(consumer, "cjs")
    mkdirSync(cjs, { recursive: true })
    writeFileSync(join(cjs, "package.json"), JSON.stringify({ name: "cjs-consumer", private: true, type: "commonjs" }))
    const required = run(process.execPath, ["-e", 'console.log(typeof require("faultline").causalBroadcastProtocol)'], cjs)
    expect(required.stderr).toBe("")
    expect(required.stdout.trim()).toBe("function")
    writeFileSync(
      join(cjs, "mine.ts"),
      'import { causalBroadcastProtocol } from "faultline"\n' +
        'export const protocols = [{ ...causalBroadcastProtocol(), name: "mine" }]\n'
    )
    const scenario = join(cjs, "mine.yaml")
    writeFileSync(scenario, "protocol: mine\nnodes: 3\nduration: 1s\n")
    const result = run("npx", ["faultline", "run", scenario, "--protocols", join(cjs, "mine.ts")], cjs)
    expect(result.stderr).toBe("")
    expect(result.stdout).toContain("all checks hold")
    expect(result.status).toBe(0)
  }, 60_000)

  it("type-checks a consumer's file with a strict nodenext tsconfig and no @types", () => {
    writeFileSync(join(consumer, "tsconfig.json"), JSON.stringify(consumerTsconfig, null, 2))
    writeFileSync(join(consumer, "consumer.ts"), consumerSource)
    const result = run("npx", ["tsc", "-p", "tsconfig.json"], consumer)
    expect(result.stdout + result.stderr).toBe("")
    expect(result.status).toBe(0)
  }, 60_000)

  it("declares nothing that needs @types/node in its public API", () => {
    // The declarations a consumer's tsc reads: dist/index.d.ts and everything it imports (tsc keeps the
    // sources' .ts specifiers in declarations, and resolves them to the .d.ts files). The CLI's
    // and the real runtime's own modules use Node's types, but no public declaration reaches them.
    const installed = join(consumer, "node_modules", "faultline")
    const reachable = new Set<string>()
    const visit = (path: string) => {
      if (reachable.has(path)) return
      reachable.add(path)
      const text = readFileSync(join(installed, path), "utf8")
      for (const match of text.matchAll(/(?:from|import\()\s*"(\.{1,2}\/[^"]+)\.[jt]s"/g)) visit(join(dirname(path), `${match[1]}.d.ts`))
    }
    visit("dist/index.d.ts")
    expect(reachable.size).toBeGreaterThan(10)
    const leaks = [...reachable].filter((path) =>
      /\bNodeJS\.|from "node:|import\("node:|\bBuffer\b|reference types=/.test(readFileSync(join(installed, path), "utf8"))
    )
    expect(leaks).toEqual([])
  })

  it("runs the faultline command, and a shipped scenario", () => {
    const help = run("npx", ["faultline", "--help"], consumer)
    expect(help.stdout).toContain("Usage: faultline")
    expect(help.status).toBe(0)
    const scenario = run("npx", ["faultline", "run", "node_modules/faultline/scenarios/causal-broadcast-partitions.yaml"], consumer)
    expect(scenario.stdout).toContain("all checks hold")
    expect(scenario.status).toBe(0)
  }, 60_000)

  it("runs a swarm of the user's own TypeScript protocol on worker threads", () => {
    // Set up: a protocol whose servers idle, in a .ts module that only the workers' lazily loaded tsx can compile.
    writeFileSync(
      join(consumer, "idle.ts"),
      'import { Effect } from "effect"\n' +
        'const never: Effect.Effect<void> = Effect.never\n' +
        'export const protocols = [{ name: "idle", description: "servers that wait", build: () => ({ server: () => never, clients: [], checkers: [] }) }]\n'
    )
    writeFileSync(join(consumer, "idle.yaml"), "protocol: idle\nnodes: 3\nduration: 1s\n")
    const swarm = run("npx", ["faultline", "swarm", "idle.yaml", "--count", "4", "--workers", "2", "--protocols", "idle.ts"], consumer)
    expect(swarm.stderr).not.toContain("Error")
    expect(swarm.stdout).toMatch(/seeds +4 of 4/)
    expect(swarm.stdout).toContain("no failures")
    expect(swarm.status).toBe(0)
  }, 60_000)
})

describe("--protocols load errors", () => {
  const directory = mkdtempSync(join(tmpdir(), "faultline-protocols-"))
  const throwing = join(directory, "throws.ts")
  const broken = join(directory, "broken.ts")
  const scenario = join(root, "scenarios", "causal-broadcast-partitions.yaml")
  writeFileSync(throwing, 'export const protocols = []\nconst quorum: number = 0\nif (quorum === 0) throw new Error("no quorum configured")\n')
  writeFileSync(broken, "export const protocols = [\nconst: number = 1\n")
  afterAll(() => rmSync(directory, { recursive: true, force: true }))

  // The compiled CLI loads tsx only for these modules; from source a loader is already active. Both must report alike.
  const clis = {
    compiled: (...args: Array<string>) => spawnSync(process.execPath, ["bin/faultline.js", ...args], { cwd: root, encoding: "utf8" }),
    source: (...args: Array<string>) => spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { cwd: root, encoding: "utf8" })
  }

  it.each(Object.keys(clis) as Array<keyof typeof clis>)("%s: a module that throws while importing gives exit 2, its message and file:line", (cli) => {
    const result = clis[cli]("run", scenario, "--protocols", throwing)
    expect(result.stderr).toBe(`faultline: --protocols: cannot load ${throwing}: Error: no quorum configured (${throwing}:3:25)\n`)
    expect(result.status).toBe(2)
  })

  it.each(Object.keys(clis) as Array<keyof typeof clis>)("%s: a module that does not compile gives exit 2, the syntax error and file:line", (cli) => {
    const result = clis[cli]("run", scenario, "--protocols", broken)
    expect(result.stderr).toBe(`faultline: --protocols: cannot load ${broken}: Unexpected "const" (${broken}:2:1)\n`)
    expect(result.status).toBe(2)
  })
})
