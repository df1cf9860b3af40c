// The protocols a command can run: the built-in ones, plus any a user module adds with --protocols.
import { spawnSync } from "node:child_process"
import { resolve } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { formatPlace, toPath, userStackPlace } from "../definition/error-location.ts"
import type { ProtocolDefinition } from "../definition/protocol.ts"
import { definitionsProblem } from "../definition/protocol-shape.ts"
import { builtinProtocols } from "../definition/registry.ts"
import { UsageError } from "./errors.ts"

/** Extensions of modules that need compiling before Node can import them. */
const typeScriptExtension = /\.(ts|mts|cts|tsx)$/

/**
 * Registers tsx's ESM loader in this thread, once, when a TypeScript module is about to be
 * imported. The compiled CLI (dist/) never pays tsx's start-up otherwise. Run from source, this
 * file is itself TypeScript, so a loader is already active in this thread and none is added.
 */
let typeScriptReady: Promise<void> | undefined
const loadTypeScript = (): Promise<void> => {
  if (import.meta.url.endsWith(".ts")) return Promise.resolve()
  // Both hooks: a .ts file in a package without "type": "module" is CommonJS to Node, and tsx
  // compiles those through its require hook.
  typeScriptReady ??= Promise.all([import("tsx/cjs/api"), import("tsx/esm/api")]).then(([commonJs, esm]) => {
    commonJs.register()
    esm.register()
  })
  return typeScriptReady
}

/**
 * Loads the registry. `modulePath` names a module (TypeScript is fine) that exports
 * `protocols: ProtocolDefinition[]`; its protocols are added to the built-in ones, and may
 * replace one of the same name. This is how users run their own protocols, and how the test
 * suite runs planted-bug variants, from the command line.
 */
export const loadProtocols = async (modulePath: string | undefined): Promise<ReadonlyMap<string, ProtocolDefinition>> => {
  if (modulePath === undefined) return builtinProtocols
  const url = pathToFileURL(resolve(modulePath)).href
  let loaded: { protocols?: unknown; default?: { protocols?: unknown } }
  try {
    if (typeScriptExtension.test(modulePath)) await loadTypeScript()
    loaded = (await import(url)) as typeof loaded
  } catch (error) {
    throw new UsageError(`--protocols: cannot load ${modulePath}: ${describeLoadError(error, url)}`)
  }
  // A TypeScript file outside an ES-module package is compiled as CommonJS, whose exports Node may
  // only offer as the default export.
  const exported = loaded.protocols ?? loaded.default?.protocols
  if (!Array.isArray(exported)) throw new UsageError(`--protocols: ${modulePath} does not export "protocols" (an array)`)
  const problem = definitionsProblem(exported)
  if (problem !== undefined) throw new UsageError(`--protocols: ${modulePath}: ${problem}`)
  const registry = new Map(builtinProtocols)
  for (const protocol of exported as Array<ProtocolDefinition>) registry.set(protocol.name, protocol)
  return registry
}

/**
 * One line for a module that failed to load: its own message and where it happened, such as
 * `Error: no quorum (protocols/mine.ts:3:7)` or `Unexpected "const" (protocols/mine.ts:2:1)`.
 * The place comes from esbuild's message (a TypeScript syntax error, as tsx reports it), from the
 * first stack frame in the module itself or else outside Faultline and node_modules (an error
 * thrown while importing), or from `node --check` (a JavaScript syntax error, whose position V8
 * keeps out of the stack).
 */
export const describeLoadError = (error: unknown, moduleUrl: string): string => {
  if (!(error instanceof Error)) return String(error).split("\n")[0]!
  // esbuild: "Transform failed with 1 error:\n/path/mine.ts:2:0: ERROR: Unexpected \"const\"" (column from 0).
  const compile = /^(.+?):(\d+):(\d+): ERROR: (.*)$/m.exec(error.message)
  if (compile !== null) return `${compile[4]} (${formatPlace({ file: toPath(compile[1]!), line: Number(compile[2]), column: Number(compile[3]) + 1 })})`
  const message = `${error.name}: ${error.message.split("\n")[0]}`
  const frame = userStackPlace(error, fileURLToPath(moduleUrl))
  const where = frame !== undefined ? formatPlace(frame) : error instanceof SyntaxError ? checkSyntax(moduleUrl) : undefined
  return where === undefined ? message : `${message} (${where})`
}

/** Where `node --check` finds a syntax error in the module ("file:///path/mine.js:2" on its first line). */
const checkSyntax = (moduleUrl: string): string | undefined => {
  const modulePath = fileURLToPath(moduleUrl)
  if (typeScriptExtension.test(modulePath)) return undefined
  const checked = spawnSync(process.execPath, ["--check", modulePath], { encoding: "utf8" })
  const first = /^(file:\/\/\S+|\/\S+):(\d+)$/m.exec(checked.stderr ?? "")
  return first === null ? undefined : formatPlace({ file: toPath(first[1]!), line: Number(first[2]), column: undefined })
}
