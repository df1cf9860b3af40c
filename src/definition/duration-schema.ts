// The schema of a duration field, apart from the parsing so that the command line can parse durations without loading Effect.
import { Schema } from "effect"
import { DURATION_FORMS, DURATION_PATTERN } from "./duration.ts"

/** A duration field of a scenario or a protocol's options: milliseconds as a number, or text in one of the forms above. */
export const DurationInput = Schema.Union([
  Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0)),
  Schema.String.check(Schema.isPattern(DURATION_PATTERN, { message: `Expected ${DURATION_FORMS}` }))
])
