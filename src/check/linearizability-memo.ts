// Lowe's memo of visited configurations for the linearizability search, held in one typed array within a memory budget. Internal to src/check.
import type { MemoryBudget } from "./linearizability-model.ts"

/** The memo's arena and buckets start this long (in 32-bit words), and double as needed. */
const memoArenaWordsInitial = 1 << 10
const memoBucketsInitial = 1 << 8
/**
 * Memos grow only while the check's total stays under this share of the memory budget: the rest is
 * for the lists that searches of list keys build, which, unlike a memo, cannot start over.
 */
const memoBudgetShare = 0.75
/** A 32-bit finalizer (MurmurHash3's), used to spread memo keys over buckets. */
export const mix32 = (value: number): number => {
  let hash = value | 0
  hash ^= hash >>> 16
  hash = Math.imul(hash, 0x85ebca6b)
  hash ^= hash >>> 13
  hash = Math.imul(hash, 0xc2b2ae35)
  hash ^= hash >>> 16
  return hash | 0
}

export const memoNew = 0
export const memoDominated = 1

/**
 * The set of configurations already visited. A configuration is the set of linearized required
 * operations (a bitset), the key's state, and the set of linearized optional operations. A new
 * configuration is dominated, and needs no search, when a visited one has the same required set and
 * state and a subset of its optional operations: leaving out more optional operations only leaves
 * more ways to go on. With no optional operations this is exactly Lowe's memo.
 *
 * Entries live in one Int32Array to keep a large memo cheap for the garbage collector. The required
 * set is stored as its count of leading full words plus the words after them up to the last non-zero
 * one: operations are numbered in call order and are linearized roughly in that order, so this
 * stays a few words long however long the history.
 * Entry layout: next entry, hash, state, leading full words, tail length, optional count, tail words, optional indices.
 *
 * Its arrays are reserved from the check's memory budget. When the budget cannot give what the memo
 * needs to grow, the memo grows as far as the budget allows and then, when full, is emptied and
 * starts over in the same arrays, keeping the configurations of the search's current region, which
 * are the ones it meets again. The search stays correct either way (the memo only prunes
 * configurations already explored); it only repeats work, and the time budget bounds that.
 */
export class MemoTable {
  // Both start small and double as needed: a search per key of a short history (the simulator
  // checks one after every run) would otherwise zero a quarter megabyte it never uses.
  private arena: Int32Array
  private used = 0
  private buckets: Int32Array
  private count = 0
  private reservedBytes = 0
  /** How many times the memo was emptied for want of memory. */
  flushes = 0

  constructor(private readonly memory: MemoryBudget) {
    // Without room even for the first arrays, the memo holds nothing and records nothing.
    const fits = this.reserveBytes(4 * (memoArenaWordsInitial + memoBucketsInitial))
    this.arena = new Int32Array(fits ? memoArenaWordsInitial : 0)
    this.buckets = new Int32Array(fits ? memoBucketsInitial : 1).fill(-1)
  }

  /** Gives the memo's arrays back to the budget; the memo records nothing afterwards. */
  release(): void {
    this.releaseBytes(this.reservedBytes)
    this.arena = new Int32Array(0)
    this.buckets = new Int32Array(1).fill(-1)
    this.used = 0
    this.count = 0
  }

  visit(
    hash: number,
    state: number,
    words: Int32Array,
    fullWords: number,
    highWord: number,
    optionalStack: Int32Array,
    optionalCount: number,
    optionalFlags: Uint8Array
  ): number {
    const mixed = mix32(hash ^ Math.imul(state + 1, 0x9e3779b1))
    const tailLength = highWord >= fullWords ? highWord - fullWords + 1 : 0
    const arena = this.arena
    let entry = this.buckets[mixed & (this.buckets.length - 1)]!
    search: while (entry !== -1) {
      if (arena[entry + 1] === mixed && arena[entry + 2] === state && arena[entry + 3] === fullWords && arena[entry + 4] === tailLength) {
        const tailStart = entry + 6
        for (let word = 0; word < tailLength; word++) {
          if (arena[tailStart + word] !== words[fullWords + word]) {
            entry = arena[entry]!
            continue search
          }
        }
        const optionalStart = tailStart + tailLength
        const storedOptionalCount = arena[entry + 5]!
        let subset = storedOptionalCount <= optionalCount
        for (let index = 0; subset && index < storedOptionalCount; index++) subset = optionalFlags[arena[optionalStart + index]!] === 1
        if (subset) return memoDominated
      }
      entry = arena[entry]!
    }
    const size = 6 + tailLength + optionalCount
    if (!this.makeRoom(size)) return memoNew
    const start = this.used
    const stored = this.arena
    stored[start + 1] = mixed
    stored[start + 2] = state
    stored[start + 3] = fullWords
    stored[start + 4] = tailLength
    stored[start + 5] = optionalCount
    for (let word = 0; word < tailLength; word++) stored[start + 6 + word] = words[fullWords + word]!
    for (let index = 0; index < optionalCount; index++) stored[start + 6 + tailLength + index] = optionalStack[index]!
    this.used += size
    this.link(start)
    this.count++
    // Without room for more buckets, chains may grow to a few entries each before the memo starts over.
    if (this.count * 4 > this.buckets.length * 3 && !this.rehash() && this.count > this.buckets.length * 4) this.flush()
    return memoNew
  }

  private link(entry: number): void {
    const bucket = this.arena[entry + 1]! & (this.buckets.length - 1)
    this.arena[entry] = this.buckets[bucket]!
    this.buckets[bucket] = entry
  }

  private reserveBytes(bytes: number): boolean {
    if (!this.memory.tryReserve(bytes, this.memory.bytesMax * memoBudgetShare)) return false
    this.reservedBytes += bytes
    return true
  }

  private releaseBytes(bytes: number): void {
    this.memory.release(bytes)
    this.reservedBytes -= bytes
  }

  /** Makes room for an entry of `size` words: in the arena, by growing it, or by emptying the memo; false when none can. */
  private makeRoom(size: number): boolean {
    if (this.used + size <= this.arena.length) return true
    if (this.grow(size)) return true
    if (size > this.arena.length) return false
    this.flush()
    return true
  }

  /**
   * Forgets the older half of the entries: the search is depth-first, so the newer ones describe the
   * region it is exploring now and is likeliest to meet again.
   */
  private flush(): void {
    const arena = this.arena
    let kept = 0
    while (kept < this.used >>> 1) kept += 6 + arena[kept + 4]! + arena[kept + 5]!
    arena.copyWithin(0, kept, this.used)
    this.used -= kept
    this.buckets.fill(-1)
    this.count = 0
    for (let entry = 0; entry < this.used; entry += 6 + arena[entry + 4]! + arena[entry + 5]!) {
      this.link(entry)
      this.count++
    }
    this.flushes++
  }

  /**
   * Grows the arena to double, or failing that to whatever the budget has left (while the old arena
   * is copied, both count), so that a tight budget is used to the full. It leaves room to double the
   * buckets once more: without it, chains would grow long and every visit slow.
   */
  private grow(size: number): boolean {
    let length = Math.max(this.arena.length * 2, memoArenaWordsInitial)
    while (length < this.used + size) length *= 2
    if (!this.reserveBytes(4 * length)) {
      length = Math.floor((this.memory.bytesMax * memoBudgetShare - this.memory.bytes) / 4) - 2 * this.buckets.length
      if (length < this.used + size || length < this.arena.length + (this.arena.length >>> 2) || !this.reserveBytes(4 * length)) return false
    }
    const grown = new Int32Array(length)
    grown.set(this.arena.subarray(0, this.used))
    this.releaseBytes(4 * this.arena.length)
    this.arena = grown
    return true
  }

  /** Doubles the buckets, within the budget; false when the budget has no room. */
  private rehash(): boolean {
    const length = this.buckets.length * 2
    if (!this.reserveBytes(4 * length)) return false
    this.releaseBytes(4 * this.buckets.length)
    this.buckets = new Int32Array(length).fill(-1)
    let entry = 0
    while (entry < this.used) {
      this.link(entry)
      entry += 6 + this.arena[entry + 4]! + this.arena[entry + 5]!
    }
    return true
  }
}
