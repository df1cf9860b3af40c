// Generates linearizable key-value histories from a seed, for tests and benchmarks: simulated clients
// issue overlapping calls against an in-memory store, and each call takes effect at a point inside its interval.

import type { HistoryEvent, JsonValue, OperationFunction, Outcome } from "./history.ts"
import { mulberry32 } from "../env/prng.ts"

/** Options for {@link generateHistory}. */
export interface HistoryGeneratorOptions {
  /** Every choice derives from this seed: the same options give the same history. */
  readonly seed: number
  /** How many operations (invoke and completion pairs) to generate. */
  readonly operations: number
  /** How many processes issue calls; each has at most one call outstanding. */
  readonly clients: number
  /** How many keys (`k0`, `k1`, ...). Even keys hold registers (read, write, cas, delete), odd keys lists (read, append, write, delete). */
  readonly keys: number
  /** The chance that a call ends in `info`; half of those take effect. Defaults to 0.02. */
  readonly infoProbability?: number
  /** The chance that a write, append or delete ends in `fail` without taking effect. Defaults to 0.01. */
  readonly failProbability?: number
}

/** The longest pause between a client's calls, in nanoseconds. */
const thinkTimeNsMax = 20_000
/** The longest time from a call to its effect, and from its effect to its return, in nanoseconds. */
const halfLatencyNsMax = 25_000


/** One call's interval and the moment it takes effect (its linearization point). */
interface PlannedCall {
  readonly process: number
  readonly callTimeNs: number
  readonly effectTimeNs: number
  readonly returnTimeNs: number
}

/** What a call did, decided when its effect is applied to the store. */
interface Decided {
  readonly f: OperationFunction
  readonly key: string
  readonly invokeValue: JsonValue | undefined
  readonly outcome: Outcome
  readonly completionValue: JsonValue | undefined
}

/** Lays out each client's calls one after another, with random think times and latencies. */
const planCalls = (options: HistoryGeneratorOptions, random: () => number): PlannedCall[] => {
  const randomInteger = (minimum: number, maximum: number): number => minimum + Math.floor(random() * (maximum - minimum + 1))
  const clockNs = Array.from({ length: options.clients }, () => randomInteger(0, thinkTimeNsMax))
  const calls: PlannedCall[] = []
  for (let position = 0; position < options.operations; position++) {
    const process = position % options.clients
    const callTimeNs = clockNs[process]! + randomInteger(1, thinkTimeNsMax)
    const effectTimeNs = callTimeNs + randomInteger(0, halfLatencyNsMax)
    const returnTimeNs = effectTimeNs + randomInteger(0, halfLatencyNsMax)
    clockNs[process] = returnTimeNs
    calls.push({ process, callTimeNs, effectTimeNs, returnTimeNs })
  }
  return calls
}

/**
 * Returns the events of a linearizable history, ordered by time. Calls take effect in the order of
 * their effect points, which lie inside their intervals, so that order is a linearization.
 */
export const generateHistory = (options: HistoryGeneratorOptions): ReadonlyArray<HistoryEvent> => {
  if (!(options.clients >= 1 && options.keys >= 1 && options.operations >= 0)) {
    throw new Error("generateHistory needs at least one client and one key")
  }
  const random = mulberry32(options.seed)
  const infoProbability = options.infoProbability ?? 0.02
  const failProbability = options.failProbability ?? 0.01
  const calls = planCalls(options, random).sort(
    (left, right) => left.effectTimeNs - right.effectTimeNs || left.process - right.process
  )
  const store = new Map<string, JsonValue>()
  const written = new Map<string, JsonValue[]>()
  let nextValue = 1
  const decide = (): Decided => {
    const keyIndex = Math.floor(random() * options.keys)
    const key = `k${keyIndex}`
    const current = store.get(key) ?? null
    const roll = random()
    const unknown = random() < infoProbability
    const takesEffect = !unknown || random() < 0.5
    const failed = !unknown && random() < failProbability
    const outcome: Outcome = unknown ? "info" : failed ? "fail" : "ok"
    const apply = (value: JsonValue): void => {
      if (!takesEffect || failed) return
      if (value === null) store.delete(key)
      else store.set(key, value)
    }
    if (roll < 0.4) return { f: "read", key, invokeValue: null, outcome: unknown ? "info" : "ok", completionValue: unknown ? null : current }
    if (roll > 0.95) {
      apply(null)
      return { f: "delete", key, invokeValue: undefined, outcome, completionValue: undefined }
    }
    const value = nextValue++
    const history = written.get(key) ?? []
    written.set(key, [...history.slice(-4), value])
    if (keyIndex % 2 === 1) {
      if (roll < 0.5) {
        apply([value])
        return { f: "write", key, invokeValue: [value], outcome, completionValue: [value] }
      }
      // Appends to a list (or an absent key) succeed; the store rejects appends to anything else.
      const canAppend = current === null || Array.isArray(current)
      if (canAppend) apply([...((current ?? []) as ReadonlyArray<JsonValue>), value])
      return { f: "append", key, invokeValue: value, outcome: canAppend ? outcome : "fail", completionValue: value }
    }
    if (roll < 0.7) {
      apply(value)
      return { f: "write", key, invokeValue: value, outcome, completionValue: value }
    }
    // A cas mostly expects the current value, otherwise a recent one, so both outcomes occur.
    const expected = current !== null && random() < 0.6 ? current : (history[Math.floor(random() * history.length)] ?? null)
    // A failed cas means the key held something else, so a cas never fails for other reasons.
    const swaps = JSON.stringify(expected) === JSON.stringify(current)
    if (swaps && takesEffect) store.set(key, value)
    const casOutcome: Outcome = unknown ? "info" : swaps ? "ok" : "fail"
    return { f: "cas", key, invokeValue: [expected, value], outcome: casOutcome, completionValue: [expected, value] }
  }
  const unordered: Array<Omit<HistoryEvent, "index">> = []
  for (const call of calls) {
    const decided = decide()
    const common = { process: call.process, f: decided.f, key: decided.key }
    const invokeValue = decided.invokeValue === undefined ? {} : { value: decided.invokeValue }
    const completionValue = decided.completionValue === undefined ? {} : { value: decided.completionValue }
    unordered.push({ ...common, type: "invoke", ...invokeValue, time: call.callTimeNs })
    unordered.push({ ...common, type: decided.outcome, ...completionValue, time: call.returnTimeNs })
  }
  // Invokes sort before completions at the same instant, so a call that returns at once still pairs.
  const typeRank = (event: Omit<HistoryEvent, "index">): number => (event.type === "invoke" ? 0 : 1)
  unordered.sort((left, right) => left.time - right.time || typeRank(left) - typeRank(right) || left.process - right.process)
  return unordered.map((event, index) => ({ index, ...event }))
}

/**
 * A linearizable key that is slow to check: 300 operations from 25 clients on one register, 30% of
 * them `info`, so that many overlapping writes may or may not have taken effect (about 14 s to
 * prove on the 2-core development machine). With {@link staleReadEvents}, the test and the bench of
 * the checker's fairness across keys.
 */
export const hardKeyEvents = (): Array<Omit<HistoryEvent, "index">> =>
  generateHistory({ seed: 1, operations: 300, clients: 25, keys: 1, infoProbability: 0.3 }).map(({ index: _index, ...event }) => event)

/** A plainly violated key, `stale`: two sequential writes, then a read of the first value. */
export const staleReadEvents: ReadonlyArray<Omit<HistoryEvent, "index">> = [
  { process: 1000, type: "invoke", f: "write", key: "stale", value: 1, time: 10 },
  { process: 1000, type: "ok", f: "write", key: "stale", value: 1, time: 20 },
  { process: 1000, type: "invoke", f: "write", key: "stale", value: 2, time: 30 },
  { process: 1000, type: "ok", f: "write", key: "stale", value: 2, time: 40 },
  { process: 1000, type: "invoke", f: "read", key: "stale", value: null, time: 50 },
  { process: 1000, type: "ok", f: "read", key: "stale", value: 1, time: 60 }
]
