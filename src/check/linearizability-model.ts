// The sequential model of one key for the linearizability search: operations as small integers over
// interned values, the key's specification, and the facts about a key's history that let the search skip work.

import { canonicalJson, type JsonValue, type Operation } from "./history.ts"

// Operation kinds of the key's sequential model, small integers rather than a tagged union because
// the search's inner loop switches on them. A failed cas is its own kind: it checks that the key
// does not hold the expected value, and changes nothing.
export const kindRead = 0
export const kindWrite = 1
export const kindCas = 2
export const kindCasFailed = 3
export const kindAppend = 4
export const kindDelete = 5

/** State 0 is the absent key; other states are interned JSON texts. */
export const stateAbsent = 0
/** What `applyOperation` returns when the operation cannot take effect in the state. */
export const noTransition = -1

/**
 * The memory one check may spend on its searches' growing structures (the memos and the interned
 * values), shared by every key so that the total stays bounded however many keys are searched at
 * once. Sizes are estimates in bytes: exact for typed arrays, approximate for strings and maps.
 */
export class MemoryBudget {
  private reservedBytes = 0
  private peakReservedBytes = 0

  constructor(readonly bytesMax: number) {
    if (!(bytesMax >= 0 && Number.isFinite(bytesMax))) throw new Error(`a memory budget must be a finite number of bytes, not ${bytesMax}`)
  }

  /** Reserves `bytes` if the total stays within `limitBytes` (at most the budget); returns whether it did. */
  tryReserve(bytes: number, limitBytes: number = this.bytesMax): boolean {
    if (this.reservedBytes + bytes > Math.min(limitBytes, this.bytesMax)) return false
    this.charge(bytes)
    return true
  }

  /** Reserves `bytes` even past the budget (for memory already spent); returns whether it still fits. */
  charge(bytes: number): boolean {
    this.reservedBytes += bytes
    this.peakReservedBytes = Math.max(this.peakReservedBytes, this.reservedBytes)
    return this.reservedBytes <= this.bytesMax
  }

  release(bytes: number): void {
    this.reservedBytes -= bytes
    if (this.reservedBytes < 0) throw new Error(`released ${bytes} bytes more than were reserved`)
  }

  /** Bytes reserved now. */
  get bytes(): number {
    return this.reservedBytes
  }

  /** The most bytes reserved at any one time. */
  get peakBytes(): number {
    return this.peakReservedBytes
  }
}

/** An estimate of what one interned text costs besides its characters: the string header and the map entry. */
const internedOverheadBytes = 64

/**
 * Interns the values one key can hold, so that the search compares and stores small integers.
 * Equal JSON values (deep equality) share one id because they share one canonical text.
 */
export class ValueTable {
  readonly texts: string[] = ["null"]
  private readonly ids = new Map<string, number>([["null", stateAbsent]])
  private readonly elementTexts: string[] = []
  private readonly elementIds = new Map<string, number>()
  private readonly appendTransitions = new Map<number, number>()
  private chargedBytes = 0
  private overBudget = false

  /**
   * Appends to lists can reach a new state at every search step, each a text as long as the list,
   * so what the search adds to the table is charged to `memory` (the values of the history itself
   * are not: they are no bigger than the history). Interning never refuses a value (the search
   * would then miss a transition and could report a violation that is not there); instead the table
   * records that it went over, and the search polls {@link exceededBudget} and gives up.
   */
  constructor(private readonly memory: MemoryBudget | null = null) {}

  /** Whether the table has grown past the memory budget. */
  get exceededBudget(): boolean {
    return this.overBudget
  }

  /** Gives back to the budget what this table was charged (when its key's check is over). */
  releaseMemory(): void {
    this.memory?.release(this.chargedBytes)
    this.chargedBytes = 0
  }

  private chargeBytes(bytes: number): void {
    if (this.memory === null) return
    this.chargedBytes += bytes
    if (!this.memory.charge(bytes)) this.overBudget = true
  }

  intern(text: string): number {
    const known = this.ids.get(text)
    if (known !== undefined) return known
    const id = this.texts.length
    this.texts.push(text)
    this.ids.set(text, id)
    return id
  }

  internElement(text: string): number {
    const known = this.elementIds.get(text)
    if (known !== undefined) return known
    const id = this.elementTexts.length
    this.elementTexts.push(text)
    this.elementIds.set(text, id)
    return id
  }

  elementText(element: number): string {
    return this.elementTexts[element] ?? "null"
  }

  /** Whether an append can follow state `state`. */
  holdsListOrAbsent(state: number): boolean {
    return state === stateAbsent || (this.texts[state] ?? "").startsWith("[")
  }

  /** The id of an element some append appends, or undefined when none does. */
  elementId(text: string): number | undefined {
    return this.elementIds.get(text)
  }

  /** The state after appending element `element` in state `state`, or `noTransition` if it holds a non-list. */
  append(state: number, element: number): number {
    // Elements are fewer than 2^21 (one per operation), so the key stays an exact double.
    const cacheKey = state * 2_097_152 + element
    const cached = this.appendTransitions.get(cacheKey)
    if (cached !== undefined) return cached
    const text = this.texts[state] ?? "null"
    const elementText = this.elementTexts[element] ?? "null"
    const knownCount = this.texts.length
    let next = noTransition
    if (state === stateAbsent || text === "[]") next = this.intern(`[${elementText}]`)
    else if (text.startsWith("[")) next = this.intern(`${text.slice(0, -1)},${elementText}]`)
    this.appendTransitions.set(cacheKey, next)
    // JavaScript strings may take two bytes per character.
    const internedBytes = this.texts.length > knownCount ? 2 * (this.texts[next]?.length ?? 0) + internedOverheadBytes : 0
    this.chargeBytes(internedOverheadBytes + internedBytes)
    return next
  }
}

/** An operation as the search sees it: its model kind and interned arguments, and whether it may be left out. */
export interface CheckedOperation {
  readonly source: Operation
  readonly kind: number
  /** read: the value read; write: the value written; cas: the expected value; append: the element. */
  readonly argument: number
  /** cas: the new value. */
  readonly replacement: number
  /** Optional operations (outcome unknown) may take effect at any time after their call, or never. */
  readonly optional: boolean
  readonly callTimeNs: number
  /** `Infinity` for optional operations. */
  readonly returnTimeNs: number
}

/**
 * Maps an operation to its model, or to null when it cannot matter: a failed write, append or delete
 * did not happen, and a read that did not return a value constrains nothing.
 */
export const modelOperation = (operation: Operation, values: ValueTable): CheckedOperation | null => {
  if (operation.returnTimeNs < operation.callTimeNs) {
    throw new Error(`operation invoked at index ${operation.invokeIndex} returns before it is called`)
  }
  const optional = operation.outcome === "info"
  const make = (kind: number, argument: number, replacement: number, isOptional: boolean): CheckedOperation => ({
    source: operation,
    kind,
    argument,
    replacement,
    optional: isOptional,
    callTimeNs: operation.callTimeNs,
    returnTimeNs: isOptional ? Number.POSITIVE_INFINITY : operation.returnTimeNs
  })
  switch (operation._tag) {
    case "Read":
      return operation.outcome === "ok" ? make(kindRead, values.intern(canonicalJson(operation.value)), 0, false) : null
    case "Write":
      return operation.outcome === "fail" ? null : make(kindWrite, values.intern(canonicalJson(operation.value)), 0, optional)
    case "Cas": {
      const expected = values.intern(canonicalJson(operation.expected))
      if (operation.outcome === "fail") return make(kindCasFailed, expected, 0, false)
      return make(kindCas, expected, values.intern(canonicalJson(operation.newValue)), optional)
    }
    case "Append":
      return operation.outcome === "fail" ? null : make(kindAppend, values.internElement(canonicalJson(operation.value)), 0, optional)
    case "Delete":
      return operation.outcome === "fail" ? null : make(kindDelete, 0, 0, optional)
    default: {
      const unreachable: never = operation
      return unreachable
    }
  }
}

/** The sequential specification of one key: the state after `operation` in `state`, or `noTransition`. */
export const applyOperation = (operation: CheckedOperation, state: number, values: ValueTable): number => {
  switch (operation.kind) {
    case kindRead:
      return state === operation.argument ? state : noTransition
    case kindWrite:
      return operation.argument
    case kindCas:
      return state === operation.argument ? operation.replacement : noTransition
    case kindCasFailed:
      return state === operation.argument ? noTransition : state
    case kindAppend:
      return values.append(state, operation.argument)
    case kindDelete:
      return stateAbsent
    default:
      throw new Error(`unknown operation kind ${operation.kind}`)
  }
}

/** The canonical texts of the elements of a list's canonical text. */
const listElements = (text: string): string[] => (JSON.parse(text) as ReadonlyArray<JsonValue>).map(canonicalJson)

/**
 * Leaves out optional operations whose effect no operation could observe. Such an operation can be
 * taken out of any linearization that includes it, and leaving it in costs the search dearly: at
 * every dead end it would try it, and every order of it with the others like it, before backtracking.
 * The cases, for a key with no failed cas (which any state but one would satisfy):
 * - an append of an element that no read or cas expects to see in a list: after the append, until
 *   the next write or delete, every state contains the element, so only appends and the reset could follow;
 * - a write (or a cas that may have swapped) of a non-list value no read or cas expects: only the next
 *   write or delete can follow it (appends need a list);
 * - the same for a list value that no read or cas value starts with, when every value written to the
 *   key is a list, so that appends that followed it would also follow whatever came before.
 */
export const withoutUnobservable = (operations: ReadonlyArray<CheckedOperation>, values: ValueTable): CheckedOperation[] => {
  if (operations.some((operation) => operation.kind === kindCasFailed)) return [...operations]
  const observedValues = new Set<number>()
  for (const operation of operations) {
    if (operation.kind === kindRead || operation.kind === kindCas) observedValues.add(operation.argument)
  }
  const observedLists = [...observedValues].map((value) => values.texts[value] ?? "null").filter((text) => text.startsWith("[")).map(listElements)
  const observedElements = new Set(observedLists.flat())
  const writesOnlyLists = operations.every((operation) => {
    const written = operation.kind === kindWrite ? operation.argument : operation.kind === kindCas ? operation.replacement : stateAbsent
    return written === stateAbsent || (values.texts[written] ?? "null").startsWith("[")
  })
  const unobservedValue = (value: number): boolean => {
    const text = values.texts[value] ?? "null"
    if (value === stateAbsent) return false
    if (!text.startsWith("[")) return !observedValues.has(value)
    const elements = listElements(text)
    return writesOnlyLists && observedLists.every((list) => list.length < elements.length || elements.some((element, index) => list[index] !== element))
  }
  return operations.filter((operation) => {
    if (!operation.optional) return true
    switch (operation.kind) {
      case kindAppend:
        return observedElements.has(values.elementText(operation.argument))
      case kindWrite:
        return !unobservedValue(operation.argument)
      case kindCas:
        return !unobservedValue(operation.replacement)
      default:
        return true
    }
  })
}

/**
 * Reads of lists reveal the order of appends: a read returning [..., x, y] means the append of x took
 * effect before the append of y. Returns, per operation, the appends that must take effect before it,
 * so that the search never tries an append before them; without this it would try every order of a
 * burst of concurrent appends until the next read. The rule needs each element to be appended by one
 * operation and to be in no written value, so that a list holding it came from its append; when that
 * does not hold, returns null.
 */
export const appendPredecessors = (
  operations: ReadonlyArray<CheckedOperation>,
  values: ValueTable
): ReadonlyArray<ReadonlyArray<number>> | null => {
  const appendOf = new Map<string, number>()
  for (const [index, operation] of operations.entries()) {
    if (operation.kind !== kindAppend) continue
    const text = values.elementText(operation.argument)
    if (appendOf.has(text)) return null
    appendOf.set(text, index)
  }
  if (appendOf.size === 0) return null
  for (const operation of operations) {
    const written = operation.kind === kindWrite ? operation.argument : operation.kind === kindCas ? operation.replacement : stateAbsent
    const text = values.texts[written] ?? "null"
    if (text.startsWith("[") && listElements(text).some((element) => appendOf.has(element))) return null
  }
  const predecessors: number[][] = operations.map(() => [])
  const readValues = new Set<number>()
  for (const operation of operations) {
    // Only required reads: an optional one may never take effect, so it proves nothing.
    if (operation.kind !== kindRead || operation.optional || readValues.has(operation.argument)) continue
    readValues.add(operation.argument)
    const text = values.texts[operation.argument] ?? "null"
    if (!text.startsWith("[")) continue
    const elements = listElements(text)
    for (let position = 1; position < elements.length; position++) {
      const before = appendOf.get(elements[position - 1]!)
      const after = appendOf.get(elements[position]!)
      if (before === undefined || after === undefined) continue
      const list = predecessors[after]!
      if (!list.includes(before)) list.push(before)
    }
  }
  return predecessors
}
