// Which values follow which, as clients saw it: each value's ancestors (the values its writer had
// read, theirs, and so on) as sets of numbers that share their structure, for the quorum store's checker.
//
// A quorum store's clients read, then write a value that supersedes what they read, so a key's
// history is a long chain of writes with short branches where writes were concurrent. Each value's
// ancestors as a set of its own cost the square of the chain's length in time and memory (40,000
// operations on ten keys: 8.2 s of CPU and 700 MB). Here a set is a persistent bitset, a tree of small
// nodes: a value's set is its parent's with one bit more, made by copying one path of the tree
// and sharing the rest, and two sets that diverged lately are merged by visiting only the nodes
// where they differ.

/** Bits a leaf holds, as 32-bit words. */
const LEAF_WORDS = 8
const LEAF_BITS = LEAF_WORDS * 32
/** Children of an inner node. */
const FANOUT = 16
const ALL_ONES = 0xffffffff

/** A leaf: bits of one stretch of the numbers. */
class Leaf {
  constructor(
    readonly words: Uint32Array,
    /** Whether every bit is set: a search for a missing number skips it. */
    readonly full: boolean
  ) {}
}

/** An inner node: FANOUT children, each over an equal stretch; a missing child holds no number. */
class Inner {
  constructor(
    readonly children: ReadonlyArray<BitNode | undefined>,
    readonly full: boolean
  ) {}
}

type BitNode = Leaf | Inner

/** The numbers a node at `level` spans (level 0 is a leaf). */
const spanOf = (level: number): number => LEAF_BITS * FANOUT ** level

/** Whether a leaf's `words` hold `index` (relative to the leaf's start). */
const leafHas = (words: Uint32Array, index: number): boolean => (words[index >>> 5]! & (1 << (index & 31))) !== 0

const leafFull = (words: Uint32Array): boolean => words.every((word) => word === ALL_ONES)
const innerFull = (children: ReadonlyArray<BitNode | undefined>): boolean => children.every((child) => child !== undefined && child.full)

/** `node` with `index` (relative to the node's start) added: one path copied, the rest shared. */
const withBit = (node: BitNode | undefined, index: number, level: number): BitNode => {
  if (level === 0) {
    const old = node as Leaf | undefined
    if (old !== undefined && leafHas(old.words, index)) return old
    const words = old === undefined ? new Uint32Array(LEAF_WORDS) : old.words.slice()
    words[index >>> 5] = (words[index >>> 5]! | (1 << (index & 31))) >>> 0
    return new Leaf(words, leafFull(words))
  }
  const childSpan = spanOf(level - 1)
  const slot = Math.floor(index / childSpan)
  const old = node as Inner | undefined
  const child = old?.children[slot]
  const updated = withBit(child, index - slot * childSpan, level - 1)
  if (updated === child) return old!
  const children = old === undefined ? new Array<BitNode | undefined>(FANOUT).fill(undefined) : old.children.slice()
  children[slot] = updated
  return new Inner(children, innerFull(children))
}

/** The union of two nodes at `level`: either one itself when it holds the other, else new nodes where they differ. */
const union = (left: BitNode | undefined, right: BitNode | undefined, level: number): BitNode | undefined => {
  if (left === undefined || left === right || right?.full === true) return right
  if (right === undefined || left.full) return left
  if (level === 0) {
    const leftWords = (left as Leaf).words
    const rightWords = (right as Leaf).words
    let words: Uint32Array | undefined
    for (let index = 0; index < LEAF_WORDS; index++) {
      const merged = (leftWords[index]! | rightWords[index]!) >>> 0
      if (merged === leftWords[index]) continue
      words ??= leftWords.slice()
      words[index] = merged
    }
    if (words === undefined) return left
    for (let index = 0; index < LEAF_WORDS; index++) if (words[index] !== rightWords[index]) return new Leaf(words, leafFull(words))
    return right
  }
  const leftChildren = (left as Inner).children
  const rightChildren = (right as Inner).children
  let children: Array<BitNode | undefined> | undefined
  for (let slot = 0; slot < FANOUT; slot++) {
    const merged = union(leftChildren[slot], rightChildren[slot], level - 1)
    if (merged === leftChildren[slot]) continue
    children ??= leftChildren.slice()
    children[slot] = merged
  }
  if (children === undefined) return left
  for (let slot = 0; slot < FANOUT; slot++) if (children[slot] !== rightChildren[slot]) return new Inner(children, innerFull(children))
  return right
}

const hasBit = (root: BitNode | undefined, index: number, level: number): boolean => {
  let node = root
  let at = index
  for (let depth = level; depth > 0; depth--) {
    if (node === undefined) return false
    if (node.full) return true
    const childSpan = spanOf(depth - 1)
    const slot = Math.floor(at / childSpan)
    node = (node as Inner).children[slot]
    at -= slot * childSpan
  }
  return node !== undefined && leafHas((node as Leaf).words, at)
}

/** The first number in [from, to) that `node` (spanning from `base`) lacks, or -1: full nodes are skipped whole. */
const firstMissing = (node: BitNode | undefined, level: number, base: number, from: number, to: number): number => {
  const low = Math.max(from, base)
  const high = Math.min(to, base + spanOf(level))
  if (low >= high) return -1
  if (node === undefined) return low
  if (node.full) return -1
  if (level === 0) {
    const words = (node as Leaf).words
    for (let at = low; at < high; at++) if (!leafHas(words, at - base)) return at
    return -1
  }
  const childSpan = spanOf(level - 1)
  const children = (node as Inner).children
  for (let slot = Math.floor((low - base) / childSpan); slot * childSpan + base < high; slot++) {
    const found = firstMissing(children[slot], level - 1, base + slot * childSpan, low, high)
    if (found >= 0) return found
  }
  return -1
}

/** A set of values, as {@link Ancestry} numbers them: read it through the ancestry that made it. */
export interface ValueSet {
  readonly _tag: "ValueSet"
  /** @internal */
  readonly root: unknown
}

/** A programmer error: the ancestry was asked something its construction rules out. */
const check = (condition: boolean, message: () => string): void => {
  if (!condition) throw new Error(`Ancestry: ${message()}`)
}

/**
 * The ancestors of every value, each value numbered once: the values of `layout` first, in its
 * order (so that a caller can ask for the first of a stretch of them that a set lacks), then
 * those of `others` and their parents. Every value with parents must be among `layout` or `others`.
 */
export class Ancestry {
  private readonly numbers = new Map<string, number>()
  private readonly level: number
  private readonly memo = new Map<string, BitNode | undefined>()
  /** Whether some value was found to be its own ancestor: then sets are made by a plain search each, as no order of the values puts parents first. */
  private cyclic = false

  constructor(
    private readonly parentsOf: (value: string) => ReadonlyArray<string> | undefined,
    layout: Iterable<string>,
    others: Iterable<string>
  ) {
    for (const value of layout) if (!this.numbers.has(value)) this.numbers.set(value, this.numbers.size)
    for (const value of others) {
      if (!this.numbers.has(value)) this.numbers.set(value, this.numbers.size)
      for (const parent of parentsOf(value) ?? []) if (!this.numbers.has(parent)) this.numbers.set(parent, this.numbers.size)
    }
    let level = 0
    while (spanOf(level) < this.numbers.size) level++
    this.level = level
  }

  /** The number `value` was given, if any: a value never written and never read by a writer has none, and no set holds it. */
  numberOf(value: string): number | undefined {
    return this.numbers.get(value)
  }

  /** Whether `later`'s write causally follows `earlier`: `earlier` is among `later`'s ancestors. */
  follows(later: string, earlier: string): boolean {
    const number = this.numbers.get(earlier)
    return number !== undefined && hasBit(this.ancestors(later), number, this.level)
  }

  /** `values` and all their ancestors. */
  cover(values: Iterable<string>): ValueSet {
    let root: BitNode | undefined
    for (const value of values) {
      root = union(root, this.ancestors(value), this.level)
      const number = this.numbers.get(value)
      if (number !== undefined) root = withBit(root, number, this.level)
    }
    return { _tag: "ValueSet", root }
  }

  /** Whether `set` holds `value`. */
  has(set: ValueSet, value: string): boolean {
    const number = this.numbers.get(value)
    return number !== undefined && hasBit(set.root as BitNode | undefined, number, this.level)
  }

  /** The first number in [from, to) that `set` lacks, or -1; the stretch must lie within the numbers given. */
  firstMissing(set: ValueSet, from: number, to: number): number {
    check(from >= 0 && to <= this.numbers.size, () => `[${from}, ${to}) is outside the ${this.numbers.size} values numbered`)
    return firstMissing(set.root as BitNode | undefined, this.level, 0, from, to)
  }

  /** The number of `parent`, a parent of some value: the constructor numbered every one. */
  private parentNumber(parent: string): number {
    const number = this.numbers.get(parent)
    check(number !== undefined, () => `${parent} is a parent of a value that was neither laid out nor among the others`)
    return number!
  }

  /** The ancestors of `value`: the parents' ancestors and the parents, each set made once, parents first. */
  private ancestors(value: string): BitNode | undefined {
    if (this.memo.has(value)) return this.memo.get(value)
    if (this.cyclic) return this.searched(value)
    const onPath = new Set<string>([value])
    const path: Array<{ readonly value: string; readonly parents: ReadonlyArray<string>; next: number }> = [{ value, parents: this.parentsOf(value) ?? [], next: 0 }]
    while (path.length > 0) {
      const top = path[path.length - 1]!
      if (top.next < top.parents.length) {
        const parent = top.parents[top.next++]!
        if (this.memo.has(parent)) continue
        if (onPath.has(parent)) {
          this.cyclic = true
          this.memo.clear()
          return this.searched(value)
        }
        onPath.add(parent)
        path.push({ value: parent, parents: this.parentsOf(parent) ?? [], next: 0 })
        continue
      }
      let root: BitNode | undefined
      for (const parent of top.parents) root = withBit(union(root, this.memo.get(parent), this.level), this.parentNumber(parent), this.level)
      this.memo.set(top.value, root)
      onPath.delete(top.value)
      path.pop()
    }
    return this.memo.get(value)
  }

  /**
   * The ancestors of `value` by a search of their own, kept once made: what a history in which some
   * value follows itself needs (its values are not all distinct, which clients never make so).
   */
  private searched(value: string): BitNode | undefined {
    let root: BitNode | undefined
    const seen = new Set<string>()
    const stack = [value]
    while (stack.length > 0) {
      for (const parent of this.parentsOf(stack.pop()!) ?? []) {
        if (seen.has(parent)) continue
        seen.add(parent)
        root = withBit(root, this.parentNumber(parent), this.level)
        stack.push(parent)
      }
    }
    this.memo.set(value, root)
    return root
  }
}
