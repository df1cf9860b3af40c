// What a user's protocol module hands Faultline, checked before it is used: a module is input, so a
// definition or a build of the wrong shape is a one-line message naming what is wrong, not a crash.
import { isRecord } from "./input.ts"

const describe = (value: unknown): string => (value === null ? "null" : Array.isArray(value) ? "an array" : typeof value)

/**
 * What is wrong with an exported `protocols` array (its entries, their names), or undefined when
 * every entry has a name, a description and a build function, and no two share a name.
 */
export const definitionsProblem = (exported: ReadonlyArray<unknown>): string | undefined => {
  const names = new Set<string>()
  for (const [index, entry] of exported.entries()) {
    const where = `protocols[${index}]`
    if (!isRecord(entry)) return `${where}: expected a protocol definition (an object), found ${describe(entry)}`
    let name: unknown, description: unknown, build: unknown
    try {
      ;({ name, description, build } = entry)
    } catch (error) {
      return `${where}: reading its fields threw: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`
    }
    if (typeof name !== "string" || name === "") return `${where}: "name" must be a non-empty string, found ${describe(name)}`
    if (typeof description !== "string") return `${where} (${name}): "description" must be a string, found ${describe(description)}`
    if (typeof build !== "function") return `${where} (${name}): "build" must be a function, found ${describe(build)}`
    if (names.has(name)) return `${where}: a second protocol named "${name}"`
    names.add(name)
  }
  return undefined
}

/** What is wrong with what a definition's `build` returned, or undefined when it has the shape of a `ProtocolBuild`. */
export const buildProblem = (built: unknown): string | undefined => {
  if (!isRecord(built)) return `build returned ${describe(built)}, not { server, clients, checkers }`
  if (typeof built["server"] !== "function") return `build's "server" must be a function of the node id, found ${describe(built["server"])}`
  const clients = built["clients"]
  if (!Array.isArray(clients)) return `build's "clients" must be an array, found ${describe(clients)}`
  for (const [index, client] of clients.entries()) {
    if (!isRecord(client) || typeof client["id"] !== "string") return `build's clients[${index}] must have a string "id"`
    if (!isRecord(client["program"])) return `build's clients[${index}] (${client["id"]}) must have a "program" (an Effect)`
  }
  const checkers = built["checkers"]
  if (!Array.isArray(checkers)) return `build's "checkers" must be an array, found ${describe(checkers)}`
  for (const [index, checker] of checkers.entries()) {
    if (!isRecord(checker)) return `build's checkers[${index}] must be an object, found ${describe(checker)}`
    if (!Array.isArray(checker["checks"]) || !checker["checks"].every((check) => typeof check === "string")) {
      return `build's checkers[${index}] must list its "checks" (an array of names)`
    }
    for (const method of ["onEvent", "finish"]) {
      if (typeof checker[method] !== "function") return `build's checkers[${index}] must have an "${method}" method`
    }
    if (!Array.isArray(checker["violations"])) return `build's checkers[${index}] must have "violations" (an array)`
  }
  return undefined
}
