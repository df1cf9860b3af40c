// Decides whether a key-value history is linearizable: the Wing–Gong/Lowe search, run on each key on
// its own (P-compositionality), and when it is not, shrinks the failing key's operations to a small witness.

import { canonicalJson, type JsonValue, type Operation } from "./history.ts"
import {
  type CheckedOperation,
  kindAppend,
  kindCas,
  kindCasFailed,
  kindDelete,
  kindRead,
  kindWrite,
  modelOperation,
  stateAbsent,
  ValueTable,
  withoutUnobservable
} from "./linearizability-model.ts"
import { type DeepestPoint, type SearchBudget, searchKey } from "./linearizability-search.ts"

/** Options for {@link checkLinearizability}. */
export interface LinearizabilityOptions {
  /** The whole check (search and shrinking a counterexample) stops with `Unknown` after this long. */
  readonly timeBudgetMs: number
  /** A clock in milliseconds, injected so that tests can fake time. Defaults to `performance.now`. */
  readonly now?: () => number
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
  const explanationBudget: SearchBudget = { now: budget.now, deadlineMs: Number.POSITIVE_INFINITY, stepsMax: shrinkAttemptStepsMax }
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

/**
 * Checks that `operations` are linearizable against a key-value store holding one register per key
 * (a list, for appends), checking each key on its own. A `fail` write, append or delete did not
 * happen; a `fail` cas saw a value other than the expected one; an `info` operation may have taken
 * effect at any time after its call, or never. Returns `Unknown` rather than run past the budget.
 * Throws only on a programmer error: an operation that returns before it is called, which
 * `parseHistory` never produces.
 */
export const checkLinearizability = (
  operations: ReadonlyArray<Operation>,
  options: LinearizabilityOptions
): LinearizabilityResult => {
  const now = options.now ?? (() => performance.now())
  const budget: SearchBudget = { now, deadlineMs: now() + options.timeBudgetMs, stepsMax: Number.POSITIVE_INFINITY }
  const operationsByKey = new Map<string, Operation[]>()
  for (const operation of operations) {
    const keyOperations = operationsByKey.get(operation.key)
    if (keyOperations === undefined) operationsByKey.set(operation.key, [operation])
    else keyOperations.push(operation)
  }
  const keys = [...operationsByKey.keys()].sort()
  let memoryReason: string | null = null
  for (const [keyPosition, key] of keys.entries()) {
    const outOfTime = `the time budget of ${options.timeBudgetMs} ms ran out while checking key ${JSON.stringify(key)} (${keyPosition} of ${keys.length} keys checked)`
    if (now() > budget.deadlineMs) return { _tag: "Unknown", reason: outOfTime }
    const values = new ValueTable()
    const modelled: CheckedOperation[] = []
    for (const operation of operationsByKey.get(key) ?? []) {
      const checkedOperation = modelOperation(operation, values)
      if (checkedOperation !== null) modelled.push(checkedOperation)
    }
    const checked = withoutUnobservable(modelled, values)
    const outcome = searchKey(checked, values, budget, false)
    switch (outcome._tag) {
      case "Linearizable":
        continue
      case "Exhausted":
        if (outcome.reason === "time") return { _tag: "Unknown", reason: outOfTime }
        // Out of memory on one key: another key may still show a definite violation.
        memoryReason ??= `the search on key ${JSON.stringify(key)} visited more configurations than its memo holds`
        continue
      case "NotLinearizable":
        return reportViolation(key, checked, outcome.deepest, values, budget)
      default: {
        const unreachable: never = outcome
        return unreachable
      }
    }
  }
  return memoryReason === null ? { _tag: "Linearizable" } : { _tag: "Unknown", reason: memoryReason }
}
