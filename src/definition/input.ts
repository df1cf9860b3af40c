// Bad input in what a user gives a protocol (a scenario, its options), and the names of a cluster's servers: shared by every world.
// It loads no library, so the command line can use it before it loads Effect.

/** Bad input in a scenario or a protocol's options: the message names the file and the field. */
export class ScenarioError extends Error {
  override readonly name = "ScenarioError"
}

/** Server ids for a cluster of `count` nodes: n1, n2, … */
export const serverIds = (count: number): Array<string> => Array.from({ length: count }, (_, index) => `n${index + 1}`)

/**
 * The sentence for a protocol name no registry holds, with the names it does hold. A name past 60
 * characters is cut, so that a long mistake (a pasted file) still gives one readable line.
 */
export const unknownProtocol = (name: string, known: Iterable<string>): string =>
  `unknown protocol ${JSON.stringify(name.length > 60 ? `${name.slice(0, 57)}...` : name)} (known: ${[...known].sort().join(", ")})`

/** Whether `value` is a plain JSON-like object (not null, not an array): how input read from a file or a module is first told apart. */
export const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value)
