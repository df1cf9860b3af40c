// Programmer-error checks for the Raft core. `node:assert` is off limits in src/protocols, so this
// is the small local equivalent; a failed assertion is a bug, never a protocol rejection.

/** Thrown when an invariant of the Raft core does not hold. */
export class AssertionError extends Error {
  override readonly name = "AssertionError"
}

/** Throws an `AssertionError` with `message` unless `condition` holds. */
export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new AssertionError(message)
}

/** Marks a `switch` over a discriminated union as exhaustive. */
export function absurd(value: never): never {
  throw new AssertionError(`unexpected value: ${JSON.stringify(value)}`)
}
