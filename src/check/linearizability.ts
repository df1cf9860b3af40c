// Decides whether a key-value history is linearizable: the Wing–Gong/Lowe search, run on each key on
// its own (P-compositionality) with the keys taking turns, and when it is not, shrinks the failing key's operations to a small witness.

import { canonicalJson, type JsonValue, type Operation } from "./history.ts"
import {
  type CheckedOperation,
  kindAppend,
  kindCas,
  kindCasFailed,
  kindDelete,
  kindRead,
  kindWrite,
  MemoryBudget,
  modelOperation,
  stateAbsent,
  ValueTable,
  withoutUnobservable
} from "./linearizability-model.ts"
import { type DeepestPoint, KeySearch, type SearchBudget, type SearchOutcome, searchKey } from "./linearizability-search.ts"

/** Options for {@link checkLinearizability}. */
export interface LinearizabilityOptions {
  /** The whole check (search and shrinking a counterexample) stops with `Unknown` after this long. */
  readonly timeBudgetMs: number
  /** A clock in milliseconds, injected so that tests can fake time. Defaults to `performance.now`. */
  readonly now?: () => number
  /**
   * What the searches may hold at once, in bytes (default 64 MiB): their memos of visited
   * configurations and the values each key can hold. A memo that cannot grow is emptied and starts
   * over, so its search repeats work; a key whose values outgrow the budget is given up as unknown.
   */
  readonly memoryBudgetBytes?: number
}

/**
 * The verdict. `NotLinearizable` names the key whose operations cannot be linearized and a subset of
 * its operations that on its own has no linearization either; `Unknown` says why the search gave up.
 */
export type LinearizabilityResult =
  | { readonly _tag: "Linearizable" }
  | {
      readonly _tag: "NotLinearizable"
      readonly key: string
      /** A small subset of the key's operations (ordered by invoke) that has no linearization. */
      readonly operations: ReadonlyArray<Operation>
      /** Prose: the longest valid order found for that subset and the operation that cannot come next. */
      readonly explanation: string
    }
  | { readonly _tag: "Unknown"; readonly reason: string }

/** Each attempt to shrink a witness may take this many search steps. */
const shrinkAttemptStepsMax = 200_000
/** Shrinking makes at most this many attempts. */
const shrinkAttemptsMax = 120
/** Shrinking tries at most this many quiescent cuts. */
const quiescentCutsTriedMax = 4

// Shrinking. Every step keeps a violation a violation: whenever the set before a step has a
// linearization, so does the set after it, so the witness never shows a problem the history does
// not have. Each step is also confirmed by a bounded search before it is kept. Two kinds of step
// need no other argument: dropping a read or a failed cas (they change nothing), and relaxing an
// operation to optional (it may then take effect at any time after its call, or never). Relaxed
// operations are left out of the reported witness; with their original constraints, the operations
// that remain have even fewer linearizations. Removing a write outright is not such a step (a read
// of its value would lose its explanation), so writes are only relaxed, and only when no read or
// cas left in the witness needs their value.

/** The working set of a shrink, and the operations relaxed away from the witness. */
interface Working {
  readonly operations: ReadonlyArray<CheckedOperation>
  readonly relaxed: ReadonlySet<Operation>
}

const relax = (operation: CheckedOperation): CheckedOperation =>
  operation.optional ? operation : { ...operation, optional: true, returnTimeNs: Number.POSITIVE_INFINITY }

/**
 * Keeps what happened up to the moment the blocking operation returned: operations invoked later are
 * dropped and those still in flight become optional. In any linearization of the whole set, every
 * operation placed before the last one that returned by then was invoked by then, so that prefix
 * linearizes the cut set.
 */
const windowCut = (working: Working, blocking: CheckedOperation): Working => {
  const cutTimeNs = blocking.returnTimeNs
  const operations = working.operations
    .filter((operation) => operation.callTimeNs <= cutTimeNs)
    .map((operation) => (operation.returnTimeNs > cutTimeNs ? relax(operation) : operation))
  const unchanged = operations.length === working.operations.length && operations.every((operation, index) => operation === working.operations[index])
  return unchanged ? working : { relaxed: working.relaxed, operations }
}

/**
 * Cuts that drop the required operations that returned before a quiescent write or delete: one that
 * no other required operation overlaps, and that returned before the blocking operation was invoked.
 * Everything that returned before such a write is linearized before it, and the write overwrites
 * its effect. Returns the cuts latest first, so that the first one the caller can use is the smallest.
 */
const quiescentCuts = (working: Working, blocking: CheckedOperation): Working[] => {
  const required = working.operations.filter((operation) => !operation.optional).sort((left, right) => left.callTimeNs - right.callTimeNs)
  let latestReturnTimeNs = Number.NEGATIVE_INFINITY
  const cutTimesNs: number[] = []
  for (const [position, operation] of required.entries()) {
    const nextCallTimeNs = required[position + 1]?.callTimeNs ?? Number.POSITIVE_INFINITY
    const blind = operation.kind === kindWrite || operation.kind === kindDelete
    const quiescent = latestReturnTimeNs < operation.callTimeNs && nextCallTimeNs > operation.returnTimeNs
    if (blind && quiescent && position > 0 && operation.returnTimeNs < blocking.callTimeNs) cutTimesNs.push(operation.callTimeNs)
    latestReturnTimeNs = Math.max(latestReturnTimeNs, operation.returnTimeNs)
  }
  return cutTimesNs.reverse().map((cutTimeNs) => ({
    relaxed: working.relaxed,
    operations: working.operations.filter((operation) => operation.optional || operation.returnTimeNs >= cutTimeNs)
  }))
}

/**
 * Which values each operation needs another operation in the witness to have produced, so that
 * shrinking never leaves a read of a value that nothing in the witness wrote: such a read is a
 * violation on its own, but a misleading one. Values are tokens: `v<id>` a value, `e<id>` an appended element.
 */
class ValueFlow {
  private readonly consumed = new Map<Operation, ReadonlyArray<string>>()
  /** Reads and cas operations that see a value no operation on the key writes. */
  private readonly unwritten = new Set<Operation>()

  constructor(operations: ReadonlyArray<CheckedOperation>, values: ValueTable) {
    const producible = new Set<string>()
    for (const operation of operations) {
      const token = ValueFlow.produces(operation)
      if (token !== null) producible.add(token)
    }
    for (const operation of operations) {
      const tokens: string[] = []
      const valueId = operation.kind === kindRead || operation.kind === kindCas ? operation.argument : stateAbsent
      if (valueId !== stateAbsent && producible.has(`v${valueId}`)) tokens.push(`v${valueId}`)
      const text = values.texts[valueId] ?? "null"
      if (operation.kind === kindRead && text.startsWith("[")) {
        for (const element of JSON.parse(text) as ReadonlyArray<JsonValue>) {
          const elementId = values.elementId(canonicalJson(element))
          if (elementId !== undefined && producible.has(`e${elementId}`)) tokens.push(`e${elementId}`)
        }
      }
      this.consumed.set(operation.source, tokens)
      if (valueId !== stateAbsent && tokens.length === 0) this.unwritten.add(operation.source)
    }
  }

  /** Whether `operation` sees a value that no operation on the key writes. */
  seesUnwrittenValue(operation: Operation): boolean {
    return this.unwritten.has(operation)
  }

  static produces(operation: CheckedOperation): string | null {
    if (operation.kind === kindWrite) return `v${operation.argument}`
    if (operation.kind === kindCas) return `v${operation.replacement}`
    if (operation.kind === kindAppend) return `e${operation.argument}`
    return null
  }

  /** True when every required operation finds what it consumes among the operations not relaxed away. */
  closed(working: Working): boolean {
    const available = new Set<string>()
    for (const operation of working.operations) {
      const token = ValueFlow.produces(operation)
      if (token !== null && !working.relaxed.has(operation.source)) available.add(token)
    }
    return working.operations.every(
      (operation) => operation.optional || (this.consumed.get(operation.source) ?? []).every((token) => available.has(token))
    )
  }
}

interface Shrinker {
  readonly flow: ValueFlow
  /** Searches `working`; returns the deepest point when it is confirmed not linearizable. */
  readonly confirm: (working: Working) => DeepestPoint | null
  attemptsLeft: number
}

/**
 * Tries to change chunks of the chosen operations (halving the chunk size, a light ddmin), keeping
 * each change that leaves the witness closed and still a violation.
 */
const shrinkInChunks = (
  working: Working,
  shrinker: Shrinker,
  chosen: (operation: CheckedOperation) => boolean,
  change: (working: Working, chunk: ReadonlySet<CheckedOperation>) => Working
): Working => {
  let current = working
  let chunkSize = Math.ceil(current.operations.filter(chosen).length / 2)
  while (chunkSize >= 1 && shrinker.attemptsLeft > 0) {
    const passStart = current
    let candidates = current.operations.filter(chosen)
    let start = 0
    while (start < candidates.length && shrinker.attemptsLeft > 0) {
      const chunk = new Set(candidates.slice(start, start + chunkSize))
      const candidate = change(current, chunk)
      if (!shrinker.flow.closed(candidate) || shrinker.confirm(candidate) === null) {
        start += chunkSize
        continue
      }
      current = candidate
      candidates = candidates.filter((operation) => !chunk.has(operation))
    }
    // At single operations, go round again while a pass changes something: a change can free others.
    if (chunkSize === 1 && current === passStart) break
    chunkSize = Math.ceil(chunkSize / 2)
  }
  return current
}

const isObserver = (operation: CheckedOperation): boolean => operation.kind === kindRead || operation.kind === kindCasFailed

const dropChunk = (working: Working, chunk: ReadonlySet<CheckedOperation>): Working => ({
  relaxed: working.relaxed,
  operations: working.operations.filter((operation) => !chunk.has(operation))
})

const relaxChunk = (working: Working, chunk: ReadonlySet<CheckedOperation>): Working => ({
  relaxed: new Set([...working.relaxed, ...[...chunk].map((operation) => operation.source)]),
  operations: working.operations.map((operation) => (chunk.has(operation) ? relax(operation) : operation))
})

/**
 * Shrinks the operations of a key that is not linearizable; returns the witness with the operations'
 * original constraints, or the input when shrinking found nothing to remove.
 */
const shrinkViolation = (
  operations: ReadonlyArray<CheckedOperation>,
  deepest: DeepestPoint,
  values: ValueTable,
  flow: ValueFlow,
  budget: SearchBudget
): ReadonlyArray<CheckedOperation> => {
  const attemptBudget: SearchBudget = { ...budget, stepsMax: shrinkAttemptStepsMax }
  const shrinker: Shrinker = {
    flow,
    attemptsLeft: shrinkAttemptsMax,
    confirm: (working) => {
      shrinker.attemptsLeft--
      const outcome = searchKey(working.operations, values, attemptBudget, false)
      return outcome._tag === "NotLinearizable" ? outcome.deepest : null
    }
  }
  let working: Working = { operations, relaxed: new Set() }
  const windowed = windowCut(working, operations[deepest.blocking]!)
  const windowConfirmed = windowed !== working && shrinker.flow.closed(windowed) ? shrinker.confirm(windowed) : null
  if (windowConfirmed !== null) working = windowed
  const blocking = windowConfirmed === null ? operations[deepest.blocking]! : windowed.operations[windowConfirmed.blocking]!
  // The latest cut keeps the least; an earlier one may be needed to keep what the witness reads.
  for (const cut of quiescentCuts(working, blocking).filter((candidate) => shrinker.flow.closed(candidate)).slice(0, quiescentCutsTriedMax)) {
    if (shrinker.confirm(cut) === null) continue
    working = cut
    break
  }
  working = shrinkInChunks(working, shrinker, isObserver, dropChunk)
  working = shrinkInChunks(working, shrinker, (operation) => !operation.optional && !isObserver(operation), relaxChunk)
  // Optional operations still in the set only widen its choices; leave out those nothing needs.
  for (const operation of working.operations) {
    if (!operation.optional || working.relaxed.has(operation.source)) continue
    const candidate = relaxChunk(working, new Set([operation]))
    if (isObserver(operation) || shrinker.flow.closed(candidate)) working = candidate
  }
  const original = new Map(operations.map((operation) => [operation.source, operation]))
  return working.operations.filter((operation) => !working.relaxed.has(operation.source)).map((operation) => original.get(operation.source)!)
}

// Explanations.

const describeValue = (text: string): string => (text === "null" ? "absent" : text)

/** One operation in a phrase, e.g. `process 3 read 5 [1200, 1500] ns`. */
const describeOperation = (operation: Operation): string => {
  const returnText = operation.outcome === "info" ? "never returned" : `${operation.returnTimeNs}`
  const timing = `[${operation.callTimeNs}, ${returnText}] ns`
  const unknown = operation.outcome === "info" ? " (outcome unknown)" : ""
  const process = `process ${operation.process}`
  switch (operation._tag) {
    case "Read":
      return `${process} read ${describeValue(canonicalJson(operation.value))} ${timing}`
    case "Write":
      return `${process} write ${canonicalJson(operation.value)}${unknown} ${timing}`
    case "Cas": {
      const result = operation.outcome === "ok" ? " succeeded" : operation.outcome === "fail" ? " failed" : unknown
      const swap = `${describeValue(canonicalJson(operation.expected))}->${canonicalJson(operation.newValue)}`
      return `${process} cas ${swap}${result} ${timing}`
    }
    case "Append":
      return `${process} append ${canonicalJson(operation.value)}${unknown} ${timing}`
    case "Delete":
      return `${process} delete${unknown} ${timing}`
    default: {
      const unreachable: never = operation
      return unreachable
    }
  }
}

/** The explanation lists at most this many operations of the longest valid order. */
const prefixListedMax = 8

const explainViolation = (
  key: string,
  operations: ReadonlyArray<CheckedOperation>,
  deepest: DeepestPoint | null,
  values: ValueTable,
  flow: ValueFlow
): string => {
  const counted = operations.length === 1 ? "this operation" : `these ${operations.length} operations`
  const opening = `There is no linearization of ${counted} on key ${JSON.stringify(key)}: no order respects both real time and the key's sequential behaviour.`
  if (deepest === null) return opening
  const prefix = deepest.prefix.map((index) => describeOperation(operations[index]!.source))
  const listed = prefix.slice(-prefixListedMax)
  const earlier = prefix.length > listed.length ? `${prefix.length - listed.length} earlier operations, then ` : ""
  const prefixText = prefix.length === 0 ? "Before any operation takes effect" : `After ${earlier}${listed.join("; ")}`
  const stateText = describeValue(values.texts[deepest.state] ?? "null")
  const blocking = operations[deepest.blocking]!.source
  const unwritten = flow.seesUnwrittenValue(blocking) ? " No operation on the key writes the value it sees." : ""
  return (
    `${opening} ${prefixText} (the longest valid order found), the key is ${stateText}, and ${describeOperation(blocking)} ` +
    `cannot take effect next, nor after any of the operations concurrent with it.${unwritten}`
  )
}

/** Builds the verdict for a key the search found not linearizable. */
const reportViolation = (
  key: string,
  operations: ReadonlyArray<CheckedOperation>,
  deepest: DeepestPoint,
  values: ValueTable,
  budget: SearchBudget
): LinearizabilityResult => {
  const flow = new ValueFlow(operations, values)
  let witness = shrinkViolation(operations, deepest, values, flow, budget)
  // The explanation comes from searching the witness itself, recording the longest valid order.
  const explanationBudget: SearchBudget = { ...budget, deadlineMs: Number.POSITIVE_INFINITY, stepsMax: shrinkAttemptStepsMax }
  let explained = searchKey(witness, values, explanationBudget, true)
  if (explained._tag === "Linearizable") {
    // Shrinking keeps violations by construction; should that ever fail, report the whole key instead.
    witness = operations
    explained = searchKey(witness, values, explanationBudget, true)
  }
  return {
    _tag: "NotLinearizable",
    key,
    operations: witness.map((operation) => operation.source).sort((left, right) => left.invokeIndex - right.invokeIndex),
    explanation: explainViolation(key, witness, explained._tag === "NotLinearizable" ? explained.deepest : null, values, flow)
  }
}

// Fairness across keys. Each key is searched on its own, but not to the end one after another: one
// hard key would then hold up a plainly violated one behind it. Instead every undecided key gets a
// slice of search steps in turn, and the slice doubles each round (iterative deepening, without the
// restarts: a key's search keeps its stack and memo between slices). A key that needs S steps is
// decided in the round whose slices first add up to S; by then no other key has had more than 2S
// steps plus one first slice (the slices so far add up to twice the previous total, which was less
// than S, plus the first), so a violation costs at most a small multiple of what it costs on its own.
// The first key found not linearizable ends the check, as in Porcupine. Slices count steps, not time,
// so the verdict and the key named do not depend on the machine's speed, only on whether time runs out.

/** The first slice of search steps a key gets; each round doubles it. A multiple of the search's clock check interval. */
const sliceStepsFirst = 1 << 12
/** What a check's searches may hold at once (memos and interned values) unless the options say otherwise. */
const memoryBudgetBytesDefault = 64 * 1024 * 1024

/**
 * One key's part of a check. The model and the search are built at the key's first slice and
 * dropped as soon as the key is decided, so that only undecided keys hold memory: most keys are
 * decided in their first slice, and keeping every key's model alive to the end made the garbage
 * collector copy it again and again (a 10,000-operation check took a fifth more CPU).
 */
interface KeyCheck {
  readonly key: string
  readonly history: ReadonlyArray<Operation>
  model: { readonly operations: ReadonlyArray<CheckedOperation>; readonly values: ValueTable } | null
  search: KeySearch | null
}

/** What a check used, for tests and the benchmark. */
export interface LinearizabilityStatistics {
  readonly memoryBudgetBytes: number
  /** The most the searches' memos and value tables held at once, in bytes (strings estimated). */
  readonly memoryPeakBytes: number
  /** Rounds of slices run; round r gives each undecided key up to `2^(r-1)` times the first slice. */
  readonly rounds: number
  /** Search steps taken over all keys, not counting those spent shrinking a counterexample. */
  readonly steps: number
  /** How many times, over all keys, a full memo forgot its older half for want of memory. */
  readonly memoFlushes: number
}

const mebibytes = (bytes: number): string => `${(bytes / (1024 * 1024)).toFixed(bytes < 1024 * 1024 ? 2 : 0)} MiB`

/** Splits the history by key, in key order. */
const splitKeys = (operations: ReadonlyArray<Operation>): KeyCheck[] => {
  const operationsByKey = new Map<string, Operation[]>()
  for (const operation of operations) {
    const keyOperations = operationsByKey.get(operation.key)
    if (keyOperations === undefined) operationsByKey.set(operation.key, [operation])
    else keyOperations.push(operation)
  }
  return [...operationsByKey.keys()].sort().map((key) => ({ key, history: operationsByKey.get(key) ?? [], model: null, search: null }))
}

/** Runs a key's next slice, modelling the key and starting its search at its first; keys whose operations are all optional need no search. */
const resumeKey = (keyCheck: KeyCheck, budget: SearchBudget, sliceSteps: number): SearchOutcome => {
  if (keyCheck.search === null) {
    const values = new ValueTable(budget.memory)
    const modelled: CheckedOperation[] = []
    for (const operation of keyCheck.history) {
      const checkedOperation = modelOperation(operation, values)
      if (checkedOperation !== null) modelled.push(checkedOperation)
    }
    const operations = withoutUnobservable(modelled, values)
    keyCheck.model = { operations, values }
    if (operations.every((operation) => operation.optional)) return { _tag: "Linearizable" }
    keyCheck.search = new KeySearch(operations, values, budget, false)
  }
  return keyCheck.search.resume(sliceSteps)
}

/** Why the check gave up when time ran out: which keys were left, and whether their memos had filled the memory budget. */
const outOfTimeReason = (options: LinearizabilityOptions, undecided: ReadonlyArray<KeyCheck>, keyCount: number, memory: MemoryBudget): string => {
  const named = undecided.slice(0, 3).map((keyCheck) => JSON.stringify(keyCheck.key))
  const more = undecided.length > named.length ? ` and ${undecided.length - named.length} more` : ""
  const keyWord = undecided.length === 1 ? "key" : "keys"
  const flushed = undecided.find((keyCheck) => (keyCheck.search?.memoFlushes ?? 0) > 0)
  const memoText =
    flushed === undefined
      ? ""
      : `; the memo of key ${JSON.stringify(flushed.key)} filled the memory budget of ${mebibytes(memory.bytesMax)} and was emptied ${flushed.search?.memoFlushes} times, so its search repeated work`
  const were = undecided.length === 1 ? "was" : "were"
  return `the time budget of ${options.timeBudgetMs} ms ran out before ${keyWord} ${named.join(", ")}${more} ${were} decided (${keyCount - undecided.length} of ${keyCount} keys checked)${memoText}`
}

interface Counters {
  steps: number
  rounds: number
  memoFlushes: number
}

/** Ends a key's part of the check: its memory goes back to the budget and its steps are counted. */
const finishKey = (keyCheck: KeyCheck, counters: Counters): void => {
  counters.steps += keyCheck.search?.stepsTaken ?? 0
  counters.memoFlushes += keyCheck.search?.memoFlushes ?? 0
  keyCheck.search?.release()
  keyCheck.search = null
  keyCheck.model?.values.releaseMemory()
  keyCheck.model = null
}

/**
 * Gives every undecided key a slice of steps in turn, doubling the slice each round, until a key is
 * found not linearizable, every key is decided, or time runs out.
 */
const searchFairly = (
  keyChecks: ReadonlyArray<KeyCheck>,
  options: LinearizabilityOptions,
  budget: SearchBudget,
  counters: Counters
): LinearizabilityResult => {
  let pending = keyChecks
  let memoryReason: string | null = null
  for (let sliceSteps = sliceStepsFirst; pending.length > 0; sliceSteps *= 2) {
    counters.rounds++
    const stillPending: KeyCheck[] = []
    for (const [position, keyCheck] of pending.entries()) {
      const outOfTime = budget.now() > budget.deadlineMs
      const outcome: SearchOutcome = outOfTime ? { _tag: "Exhausted", reason: "time" } : resumeKey(keyCheck, budget, sliceSteps)
      switch (outcome._tag) {
        case "Linearizable":
          finishKey(keyCheck, counters)
          continue
        case "NotLinearizable": {
          // The other keys' memory goes back first: shrinking the witness searches within the same budget.
          for (const left of [...stillPending, ...pending.slice(position + 1)]) finishKey(left, counters)
          const model = keyCheck.model!
          const result = reportViolation(keyCheck.key, model.operations, outcome.deepest, model.values, budget)
          finishKey(keyCheck, counters)
          return result
        }
        case "Exhausted":
          if (outcome.reason === "steps") {
            stillPending.push(keyCheck)
            continue
          }
          if (outcome.reason === "time") {
            const undecided = [...stillPending, ...pending.slice(position)]
            const reason = outOfTimeReason(options, undecided, keyChecks.length, budget.memory)
            for (const left of undecided) finishKey(left, counters)
            return { _tag: "Unknown", reason }
          }
          // Out of memory on one key: another key may still show a definite violation.
          memoryReason ??= `the values key ${JSON.stringify(keyCheck.key)} can hold outgrew the memory budget of ${mebibytes(budget.memory.bytesMax)}`
          finishKey(keyCheck, counters)
          continue
        default: {
          const unreachable: never = outcome
          return unreachable
        }
      }
    }
    pending = stillPending
  }
  return memoryReason === null ? { _tag: "Linearizable" } : { _tag: "Unknown", reason: memoryReason }
}

/**
 * Checks that `operations` are linearizable against a key-value store holding one register per key
 * (a list, for appends), checking each key on its own and sharing the time and memory between keys
 * fairly. A `fail` write, append or delete did not happen; a `fail` cas saw a value other than the
 * expected one; an `info` operation may have taken effect at any time after its call, or never.
 * Returns `Unknown` rather than run past the time budget. Throws only on a programmer error: an
 * operation that returns before it is called, which `parseHistory` never produces.
 */
export const checkLinearizability = (operations: ReadonlyArray<Operation>, options: LinearizabilityOptions): LinearizabilityResult =>
  checkLinearizabilityMeasured(operations, options).result

/** {@link checkLinearizability}, also reporting what the check used. */
export const checkLinearizabilityMeasured = (
  operations: ReadonlyArray<Operation>,
  options: LinearizabilityOptions
): { readonly result: LinearizabilityResult; readonly statistics: LinearizabilityStatistics } => {
  const now = options.now ?? (() => performance.now())
  const memory = new MemoryBudget(options.memoryBudgetBytes ?? memoryBudgetBytesDefault)
  const budget: SearchBudget = { now, deadlineMs: now() + options.timeBudgetMs, stepsMax: Number.POSITIVE_INFINITY, memory }
  const counters: Counters = { steps: 0, rounds: 0, memoFlushes: 0 }
  const result = searchFairly(splitKeys(operations), options, budget, counters)
  return { result, statistics: { memoryBudgetBytes: memory.bytesMax, memoryPeakBytes: memory.peakBytes, ...counters } }
}
