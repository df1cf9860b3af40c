// The protocols a command can run: the built-in ones, plus any a user module adds with --protocols.
import { resolve } from "node:path"
import { pathToFileURL } from "node:url"
import type { ProtocolDefinition } from "../definition/protocol.ts"
import { builtinProtocols } from "../definition/registry.ts"
import { UsageError } from "./errors.ts"

/**
 * Loads the registry. `modulePath` names a module (TypeScript is fine) that exports
 * `protocols: ProtocolDefinition[]`; its protocols are added to the built-in ones, and may
 * replace one of the same name. This is how users run their own protocols, and how the test
 * suite runs planted-bug variants, from the command line.
 */
export const loadProtocols = async (modulePath: string | undefined): Promise<ReadonlyMap<string, ProtocolDefinition>> => {
  if (modulePath === undefined) return builtinProtocols
  let loaded: { protocols?: unknown }
  try {
    loaded = (await import(pathToFileURL(resolve(modulePath)).href)) as { protocols?: unknown }
  } catch (error) {
    throw new UsageError(`--protocols: cannot load ${modulePath} (${String((error as Error).message ?? error).split("\n")[0]})`)
  }
  if (!Array.isArray(loaded.protocols)) throw new UsageError(`--protocols: ${modulePath} does not export "protocols" (an array)`)
  const registry = new Map(builtinProtocols)
  for (const protocol of loaded.protocols as Array<ProtocolDefinition>) registry.set(protocol.name, protocol)
  return registry
}
