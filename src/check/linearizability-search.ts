// The search behind the linearizability checker: the iterative Wing–Gong/Lowe search over one key's
// operations, with Lowe's memo of visited configurations. Internal to src/check.

import {
  appendPredecessors,
  applyOperation,
  type CheckedOperation,
  kindAppend,
  kindCas,
  kindCasFailed,
  kindRead,
  type MemoryBudget,
  noTransition,
  stateAbsent,
  type ValueTable
} from "./linearizability-model.ts"
import { MemoTable, memoNew, mix32 } from "./linearizability-memo.ts"

/** The clock is read once per this many search steps (a power of two, so the test is a mask). */
const clockCheckStepInterval = 2048

/** Limits on one search. */
export interface SearchBudget {
  readonly now: () => number
  readonly deadlineMs: number
  /** `run` stops with `Exhausted` "steps" after this many steps; `resume` sets its own limit. */
  readonly stepsMax: number
  /** Shared by the searches of one check; when it runs out the memo starts over and the value table gives up. */
  readonly memory: MemoryBudget
}

/** Where the search got furthest: what it had linearized, and the operation it could not place next. */
export interface DeepestPoint {
  /** Required operations linearized. */
  readonly linearizedCount: number
  /** Index (into the searched operations) of the pending operation that returns first. */
  readonly blocking: number
  /** Indexes of the operations linearized, in order; empty unless asked for. */
  readonly prefix: ReadonlyArray<number>
  readonly state: number
}

/** What a search returns when it stops. After `Exhausted` "steps", `resume` carries on from where it stopped. */
export type SearchOutcome =
  | { readonly _tag: "Linearizable" }
  | { readonly _tag: "NotLinearizable"; readonly deepest: DeepestPoint }
  | { readonly _tag: "Exhausted"; readonly reason: "time" | "steps" | "memory" }

const compareCallTimes = (operations: ReadonlyArray<CheckedOperation>) => (left: number, right: number): number =>
  operations[left]!.callTimeNs - operations[right]!.callTimeNs ||
  operations[left]!.returnTimeNs - operations[right]!.returnTimeNs ||
  left - right

/**
 * One search (Lowe's iterative WGL). Required operations sit in a doubly-linked list of call and
 * return entries ordered by time, calls first on ties, so that operations touching at one instant
 * count as concurrent. A step linearizes the call of an entry before the first return in the list
 * (after trying those, an optional operation invoked by then), lifts it out of the list and starts
 * again from the head; at a dead end it pops the last step and tries the candidate after it. The
 * search succeeds when no required operation is left: optional ones may simply never take effect.
 */
export class KeySearch {
  private readonly requiredOrder: ReadonlyArray<number>
  private readonly optionalOrder: ReadonlyArray<number>

  // Entry 2r is the call of required operation r (numbered in call order), 2r + 1 its return; `head` is the sentinel.
  private readonly head: number
  private readonly next: Int32Array
  private readonly previous: Int32Array
  private readonly entryTimes: Float64Array

  // Optional operations not yet linearized, ordered by call time, in their own list.
  private readonly optionalHead: number
  private readonly optionalNext: Int32Array
  private readonly optionalPrevious: Int32Array
  private readonly optionalCallTimes: Float64Array

  // The linearized sets: required ones as a bitset with its Zobrist hash, its count of leading full
  // words and its last non-zero word (what the memo stores); optional ones as flags and a stack.
  private readonly words: Int32Array
  private readonly zobrist: Int32Array
  private hash = 0
  private fullWords = 0
  private highWord = -1
  private readonly optionalFlags: Uint8Array
  private readonly optionalStack: Int32Array
  private optionalLinearized = 0

  // Appends that must precede each operation, and where each operation sits in its order.
  private readonly predecessors: ReadonlyArray<ReadonlyArray<number>> | null
  private readonly requiredPositionOf: Int32Array
  private readonly optionalPositionOf: Int32Array

  // The stack of steps: the entry taken (or -1 - optional position) and what to restore on backtracking.
  private readonly frameMove: Int32Array
  private readonly frameState: Int32Array
  private readonly frameBaseState: Int32Array
  private readonly frameChainLength: Int32Array
  private readonly frameFirstReturnTime: Float64Array
  private depth = 0

  private readonly memo: MemoTable
  private steps = 0
  private state = stateAbsent
  // The state after the last required step. An optional operation taken after other optional ones
  // is skipped when taking it there gives the same state: that configuration has fewer optional
  // operations, dominates this one, and is searched from there anyway.
  private baseState = stateAbsent
  private chainLength = 0
  private linearizedRequired = 0
  private deepest: DeepestPoint | null = null

  // Where the search is at the current node: scanning required calls, or optional operations.
  private inOptionalPhase = false
  private entry: number
  private optionalCursor = -1
  private firstReturnTime = 0

  // What an optional operation would have to do at the current node to be worth taking: give a
  // state that some candidate needs (a read's value, a cas's expected value), or any other state
  // when a failed cas is blocked by the current one, or any other list when an append is a
  // candidate. Otherwise every continuation after it is also one without it, or one where it comes later.
  private readonly wantedStates: number[] = []
  private anyChangeHelps = false
  private anyListChangeHelps = false

  constructor(
    private readonly operations: ReadonlyArray<CheckedOperation>,
    private readonly values: ValueTable,
    private readonly budget: SearchBudget,
    private readonly recordPrefix: boolean
  ) {
    this.memo = new MemoTable(budget.memory)
    const indexes = operations.map((_, index) => index)
    this.requiredOrder = indexes.filter((index) => !operations[index]!.optional).sort(compareCallTimes(operations))
    this.optionalOrder = indexes.filter((index) => operations[index]!.optional).sort(compareCallTimes(operations))
    const requiredCount = this.requiredOrder.length
    const optionalCount = this.optionalOrder.length

    this.head = 2 * requiredCount
    this.entryTimes = Float64Array.from({ length: this.head }, (_, entry) => {
      const operation = operations[this.requiredOrder[entry >>> 1]!]!
      return (entry & 1) === 0 ? operation.callTimeNs : operation.returnTimeNs
    })
    const sortedEntries = Array.from({ length: this.head }, (_, entry) => entry).sort(
      (left, right) => this.entryTimes[left]! - this.entryTimes[right]! || (left & 1) - (right & 1) || left - right
    )
    this.next = new Int32Array(this.head + 1).fill(-1)
    this.previous = new Int32Array(this.head + 1).fill(-1)
    let last = this.head
    for (const entry of sortedEntries) {
      this.next[last] = entry
      this.previous[entry] = last
      last = entry
    }
    this.entry = this.next[this.head]!

    this.optionalHead = optionalCount
    this.optionalNext = new Int32Array(optionalCount + 1).fill(-1)
    this.optionalPrevious = new Int32Array(optionalCount + 1).fill(-1)
    for (let position = 0; position < optionalCount; position++) {
      const before = position === 0 ? this.optionalHead : position - 1
      this.optionalNext[before] = position
      this.optionalPrevious[position] = before
    }
    this.optionalCallTimes = Float64Array.from(this.optionalOrder, (index) => operations[index]!.callTimeNs)

    this.words = new Int32Array(Math.ceil(requiredCount / 32))
    this.zobrist = Int32Array.from({ length: requiredCount }, (_, position) => mix32(Math.imul(position + 1, 0x9e3779b9)))
    this.optionalFlags = new Uint8Array(optionalCount)
    this.optionalStack = new Int32Array(optionalCount)

    this.predecessors = appendPredecessors(operations, values)
    this.requiredPositionOf = new Int32Array(operations.length).fill(-1)
    for (const [position, index] of this.requiredOrder.entries()) this.requiredPositionOf[index] = position
    this.optionalPositionOf = new Int32Array(operations.length).fill(-1)
    for (const [position, index] of this.optionalOrder.entries()) this.optionalPositionOf[index] = position

    const depthMax = requiredCount + optionalCount
    this.frameMove = new Int32Array(depthMax)
    this.frameState = new Int32Array(depthMax)
    this.frameBaseState = new Int32Array(depthMax)
    this.frameChainLength = new Int32Array(depthMax)
    this.frameFirstReturnTime = new Float64Array(depthMax)
  }

  /** Searches from the start until the search decides or meets a limit of the budget. */
  run(): SearchOutcome {
    return this.searchUntil(this.budget.stepsMax)
  }

  /**
   * Goes on for at most `stepsMore` further steps (a multiple of the clock check interval, so that
   * it is exact), keeping the stack and memo, so a scheduler can give keys slices of work in turn.
   */
  resume(stepsMore: number): SearchOutcome {
    return this.searchUntil(this.steps + stepsMore)
  }

  /** Steps taken so far. */
  get stepsTaken(): number {
    return this.steps
  }

  /** How many times the memo was emptied because the memory budget could not let it grow. */
  get memoFlushes(): number {
    return this.memo.flushes
  }

  /** Gives the memo back to the memory budget, once the search is over or abandoned. */
  release(): void {
    this.memo.release()
  }

  private searchUntil(stepsLimit: number): SearchOutcome {
    // The count lives in a local while the loop runs (the inner loop is hot) and is saved on every exit.
    let steps = this.steps
    let outcome: SearchOutcome | null = null
    while (outcome === null) {
      if (((steps + 1) & (clockCheckStepInterval - 1)) === 0) {
        if (steps + 1 >= stepsLimit) outcome = { _tag: "Exhausted", reason: "steps" }
        else if (this.budget.now() > this.budget.deadlineMs) outcome = { _tag: "Exhausted", reason: "time" }
        else if (this.values.exceededBudget) outcome = { _tag: "Exhausted", reason: "memory" }
        if (outcome !== null) break
      }
      steps++
      if (this.next[this.head] === -1) outcome = { _tag: "Linearizable" }
      else outcome = this.inOptionalPhase ? this.stepOptional() : this.stepRequired()
    }
    this.steps = steps
    return outcome
  }

  /** Tries the required candidate under the cursor; returns an outcome only when the search must stop. */
  private stepRequired(): SearchOutcome | null {
    const entry = this.entry
    if ((entry & 1) === 1) {
      this.enterOptionalPhase(entry)
      return null
    }
    const position = entry >>> 1
    const index = this.requiredOrder[position]!
    const nextState = this.predecessorsLinearized(index) ? applyOperation(this.operations[index]!, this.state, this.values) : noTransition
    if (nextState !== noTransition) {
      const savedFullWords = this.fullWords
      const savedHighWord = this.highWord
      this.setRequired(position)
      const visit = this.visit(nextState)
      if (visit === memoNew) {
        this.pushFrame(entry)
        this.lift(entry)
        this.state = nextState
        this.baseState = nextState
        this.chainLength = 0
        this.linearizedRequired++
        this.entry = this.next[this.head]!
        return null
      }
      this.clearRequired(position)
      this.fullWords = savedFullWords
      this.highWord = savedHighWord
    }
    this.entry = this.next[entry]!
    return null
  }

  /** At the first pending return: nothing invoked after it can come before it. */
  private enterOptionalPhase(returnEntry: number): void {
    this.firstReturnTime = this.entryTimes[returnEntry]!
    if (this.deepest === null || this.linearizedRequired > this.deepest.linearizedCount) {
      const prefix = this.recordPrefix
        ? Array.from(this.frameMove.subarray(0, this.depth), (move) => (move >= 0 ? this.requiredOrder[move >>> 1]! : this.optionalOrder[-1 - move]!))
        : []
      this.deepest = { linearizedCount: this.linearizedRequired, blocking: this.requiredOrder[returnEntry >>> 1]!, prefix, state: this.state }
    }
    this.inOptionalPhase = true
    this.optionalCursor = this.optionalNext[this.optionalHead]!
    this.summarizeWants()
  }

  /** Tries the optional operation under the cursor, or backtracks when none is left to try. */
  private stepOptional(): SearchOutcome | null {
    const position = this.optionalCursor
    if (position === -1 || this.optionalCallTimes[position]! > this.firstReturnTime) return this.backtrack()
    this.optionalCursor = this.optionalNext[position]!
    const index = this.optionalOrder[position]!
    const operation = this.operations[index]!
    const nextState = this.predecessorsLinearized(index) ? applyOperation(operation, this.state, this.values) : noTransition
    // An operation that leaves the state as it is only adds to the optional set: it is dominated.
    const dominated =
      nextState === noTransition ||
      nextState === this.state ||
      (this.chainLength > 0 && applyOperation(operation, this.baseState, this.values) === nextState) ||
      !this.helps(nextState)
    if (dominated) return null
    this.optionalFlags[position] = 1
    this.optionalStack[this.optionalLinearized++] = position
    const visit = this.visit(nextState)
    if (visit !== memoNew) {
      this.optionalFlags[position] = 0
      this.optionalLinearized--
      return null
    }
    this.pushFrame(-1 - position)
    this.optionalNext[this.optionalPrevious[position]!] = this.optionalNext[position]!
    if (this.optionalNext[position] !== -1) this.optionalPrevious[this.optionalNext[position]!] = this.optionalPrevious[position]!
    this.state = nextState
    this.chainLength++
    this.inOptionalPhase = false
    this.entry = this.next[this.head]!
    return null
  }

  /** Every candidate failed at this node: undoes the last step and moves the cursor past it. */
  private backtrack(): SearchOutcome | null {
    if (this.depth === 0) {
      if (this.deepest === null) throw new Error("a failed search must have reached a pending return")
      return { _tag: "NotLinearizable", deepest: this.deepest }
    }
    const depth = --this.depth
    const move = this.frameMove[depth]!
    this.state = this.frameState[depth]!
    this.baseState = this.frameBaseState[depth]!
    this.chainLength = this.frameChainLength[depth]!
    if (move >= 0) {
      this.unlift(move)
      this.clearRequired(move >>> 1)
      this.linearizedRequired--
      this.inOptionalPhase = false
      this.entry = this.next[move]!
      return null
    }
    const position = -1 - move
    this.optionalNext[this.optionalPrevious[position]!] = position
    if (this.optionalNext[position] !== -1) this.optionalPrevious[this.optionalNext[position]!] = position
    this.optionalFlags[position] = 0
    this.optionalLinearized--
    this.firstReturnTime = this.frameFirstReturnTime[depth]!
    this.inOptionalPhase = true
    this.optionalCursor = this.optionalNext[position]!
    this.summarizeWants()
    return null
  }

  private pushFrame(move: number): void {
    const depth = this.depth++
    this.frameMove[depth] = move
    this.frameState[depth] = this.state
    this.frameBaseState[depth] = this.baseState
    this.frameChainLength[depth] = this.chainLength
    this.frameFirstReturnTime[depth] = this.firstReturnTime
  }

  private visit(nextState: number): number {
    return this.memo.visit(
      this.hash,
      nextState,
      this.words,
      this.fullWords,
      this.highWord,
      this.optionalStack,
      this.optionalLinearized,
      this.optionalFlags
    )
  }

  /** Takes a call and its return out of the list; they keep their own pointers for `unlift` (dancing links). */
  private lift(entry: number): void {
    const { next, previous } = this
    next[previous[entry]!] = next[entry]!
    previous[next[entry]!] = previous[entry]!
    const returnEntry = entry + 1
    next[previous[returnEntry]!] = next[returnEntry]!
    if (next[returnEntry] !== -1) previous[next[returnEntry]!] = previous[returnEntry]!
  }

  private unlift(entry: number): void {
    const { next, previous } = this
    const returnEntry = entry + 1
    next[previous[returnEntry]!] = returnEntry
    if (next[returnEntry] !== -1) previous[next[returnEntry]!] = returnEntry
    next[previous[entry]!] = entry
    previous[next[entry]!] = entry
  }

  private setRequired(position: number): void {
    const word = position >>> 5
    this.words[word] = this.words[word]! | (1 << (position & 31))
    this.hash ^= this.zobrist[position]!
    if (word > this.highWord) this.highWord = word
    if (word === this.fullWords) while (this.fullWords < this.words.length && this.words[this.fullWords] === -1) this.fullWords++
  }

  private clearRequired(position: number): void {
    const word = position >>> 5
    this.words[word] = this.words[word]! & ~(1 << (position & 31))
    this.hash ^= this.zobrist[position]!
    if (word < this.fullWords) this.fullWords = word
    if (word === this.highWord) while (this.highWord >= 0 && this.words[this.highWord] === 0) this.highWord--
  }

  /** Whether every append that must precede operation `index` has been linearized. */
  private predecessorsLinearized(index: number): boolean {
    const predecessors = this.predecessors?.[index]
    if (predecessors === undefined) return true
    for (const predecessor of predecessors) {
      const position = this.requiredPositionOf[predecessor]!
      const linearized =
        position >= 0
          ? (this.words[position >>> 5]! & (1 << (position & 31))) !== 0
          : this.optionalFlags[this.optionalPositionOf[predecessor]!] === 1
      if (!linearized) return false
    }
    return true
  }

  private summarizeWants(): void {
    this.wantedStates.length = 0
    this.anyChangeHelps = false
    this.anyListChangeHelps = false
    for (let candidate = this.next[this.head]!; (candidate & 1) === 0; candidate = this.next[candidate]!) {
      this.addWants(this.operations[this.requiredOrder[candidate >>> 1]!]!)
    }
    for (let position = this.optionalNext[this.optionalHead]!; position !== -1; position = this.optionalNext[position]!) {
      if (this.optionalCallTimes[position]! > this.firstReturnTime) break
      this.addWants(this.operations[this.optionalOrder[position]!]!)
    }
  }

  private addWants(operation: CheckedOperation): void {
    if ((operation.kind === kindRead && !operation.optional) || operation.kind === kindCas) {
      if (this.state !== operation.argument) this.wantedStates.push(operation.argument)
    } else if (operation.kind === kindCasFailed && !operation.optional) {
      if (this.state === operation.argument) this.anyChangeHelps = true
    } else if (operation.kind === kindAppend) {
      this.anyListChangeHelps = true
    }
  }

  private helps(candidateState: number): boolean {
    return (
      this.anyChangeHelps ||
      (this.anyListChangeHelps && this.values.holdsListOrAbsent(candidateState)) ||
      this.wantedStates.includes(candidateState)
    )
  }
}

/** Searches for a linearization of one key's operations, within the budget. */
export const searchKey = (
  operations: ReadonlyArray<CheckedOperation>,
  values: ValueTable,
  budget: SearchBudget,
  recordPrefix: boolean
): SearchOutcome => {
  if (operations.every((operation) => operation.optional)) return { _tag: "Linearizable" }
  const search = new KeySearch(operations, values, budget, recordPrefix)
  const outcome = search.run()
  search.release()
  return outcome
}
