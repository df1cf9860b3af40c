// Bad input from the command line: one line on stderr, exit code 2, no stack trace.
import { DURATION_FORMS, parseDuration } from "../definition/duration.ts"

/** An error in what the user gave us (a flag, a file). The CLI prints its message and exits 2. */
export class UsageError extends Error {
  override readonly name = "UsageError"
}

/** Parses a whole number flag, naming the flag when it is not one. */
export const parseInteger = (flag: string, text: string, options: { readonly minimum?: number } = {}): number => {
  if (!/^-?\d+$/.test(text.trim())) throw new UsageError(`${flag}: expected a whole number, got "${text}"`)
  const value = Number(text)
  if (!Number.isSafeInteger(value)) throw new UsageError(`${flag}: ${text} is too large`)
  if (options.minimum !== undefined && value < options.minimum) {
    throw new UsageError(`${flag}: must be at least ${options.minimum}, got ${value}`)
  }
  return value
}

/** Parses a duration flag (`500ms`, `10s`, `2m`, `1h`, or bare milliseconds), naming the flag when it is not one. */
export const parseDurationFlag = (flag: string, text: string, options: { readonly minimumMs?: number } = {}): number => {
  const ms = parseDuration(text)
  if (ms === undefined) throw new UsageError(`${flag}: expected ${DURATION_FORMS}, got "${text}"`)
  if (options.minimumMs !== undefined && ms < options.minimumMs) {
    throw new UsageError(`${flag}: must be at least ${options.minimumMs} ms, got ${text}`)
  }
  return ms
}
