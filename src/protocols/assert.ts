// Programmer-error checks for protocol cores. `node:assert` is off limits in src/protocols, so this
// is the small local equivalent; a failed assertion is a bug, never a protocol rejection.

/** Thrown when an invariant of a protocol core does not hold. */
export class AssertionError extends Error {
  override readonly name = "AssertionError"
}

/**
 * Throws an `AssertionError` with `message` unless `condition` holds. A message built from values
 * is passed as a function, so that the hot paths, where the condition holds, never build it.
 */
export function assert(condition: boolean, message: string | (() => string)): asserts condition {
  if (!condition) throw new AssertionError(typeof message === "string" ? message : message())
}

/** Marks a `switch` over a discriminated union as exhaustive. */
export function absurd(value: never): never {
  throw new AssertionError(`unexpected value: ${JSON.stringify(value)}`)
}
