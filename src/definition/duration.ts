// One convention for every duration a user writes, in scenario files and on the command line.

/**
 * A duration as users write it: a bare number of milliseconds, or a number with a unit, `ms`,
 * `s`, `m` or `h` (`500ms`, `10s`, `1.5m`, `1h`). Scenario fields and command-line flags take
 * exactly these forms.
 */
export const DURATION_PATTERN = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/

/** How the forms are named in error messages. */
export const DURATION_FORMS = "a duration such as 500ms, 10s, 2m or 1h (a bare number is milliseconds)"

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** Milliseconds from a duration; undefined when the text is not one. */
export const parseDuration = (input: number | string): number | undefined => {
  if (typeof input === "number") return Number.isFinite(input) && input >= 0 ? input : undefined
  const match = DURATION_PATTERN.exec(input.trim())
  if (match === null) return undefined
  return Number(match[1]) * UNIT_MS[match[2] ?? "ms"]!
}

/** A duration for people: `1.5 s`, `2 m`, `250 ms`. */
export const formatDuration = (ms: number): string => {
  if (ms >= 3_600_000 && ms % 60_000 === 0) return `${ms / 3_600_000} h`
  if (ms >= 60_000 && ms % 1000 === 0) return `${ms / 60_000} m`
  if (ms >= 1000) return `${ms / 1000} s`
  return `${ms} ms`
}


/** Milliseconds from a duration the schema has already accepted. */
export const durationMs = (input: number | string): number => {
  const ms = parseDuration(input)
  if (ms === undefined) throw new Error(`durationMs: ${JSON.stringify(input)} passed the schema but is not a duration`)
  return ms
}
