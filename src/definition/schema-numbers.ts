// The numeric field schemas that scenario sections share, whatever the protocol.
import { Schema } from "effect"

/** A finite number above 0. */
export const positive = Schema.Finite.check(Schema.isGreaterThan(0))
/** A finite number at or above 0. */
export const nonNegative = Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0))
/** An integer above 0. */
export const positiveInt = Schema.Int.check(Schema.isGreaterThan(0))
/** An integer at or above 0. */
export const nonNegativeInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
