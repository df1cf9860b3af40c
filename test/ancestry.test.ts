// The quorum checker's ancestry (src/check/ancestry.ts) against a plain search of the same graphs:
// which value follows which, what a set of values covers, and the first number a set lacks.
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Ancestry } from "../src/check/ancestry.ts"
import { plainAncestors } from "./fixtures/plain-ancestors.ts"

/** Every value reachable from `value` by one step or more, by a plain search. */
const reachable = (parents: ReadonlyMap<string, ReadonlyArray<string>>, value: string): Set<string> => plainAncestors((of) => parents.get(of), value)

/**
 * A graph of `size` written values `v0`.. in order: each names up to three parents, mostly among
 * the last few values before it (a chain with branches, as clients make), some far back, some
 * never written (`x0`..), and with `cycles`, some after it or itself.
 */
const graphs = (sizeMax: number) =>
  fc
    .record({
      size: fc.integer({ min: 1, max: sizeMax }),
      cycles: fc.boolean(),
      seed: fc.integer({ min: 1, max: 2 ** 30 })
    })
    .map(({ size, cycles, seed }) => {
      let state = seed
      const random = () => {
        state = (state * 1103515245 + 12345) % 2147483648
        return state / 2147483648
      }
      const parents = new Map<string, Array<string>>()
      for (let index = 0; index < size; index++) {
        const named: Array<string> = []
        const count = Math.floor(random() * 4)
        for (let parent = 0; parent < count; parent++) {
          const kind = random()
          if (kind < 0.7 && index > 0) named.push(`v${Math.max(0, index - 1 - Math.floor(random() * 3))}`)
          else if (kind < 0.85 && index > 0) named.push(`v${Math.floor(random() * index)}`)
          else if (kind < 0.95) named.push(`x${Math.floor(random() * 5)}`)
          else if (cycles) named.push(`v${Math.floor(random() * size)}`)
        }
        parents.set(`v${index}`, named)
      }
      return { parents, size, random }
    })

/** The ancestry with each graph's values laid out as written, odd ones first (any order must do). */
const ancestryOf = (parents: ReadonlyMap<string, ReadonlyArray<string>>, size: number) => {
  const layout = Array.from({ length: size }, (_, index) => `v${index}`).sort((left, right) => (Number(left.slice(1)) % 2) - (Number(right.slice(1)) % 2))
  return { ancestry: new Ancestry((value) => parents.get(value), layout, parents.keys()), layout }
}

describe("ancestry", () => {
  it("says a value follows another exactly when a plain search reaches it, cycles and values never written included", () => {
    fc.assert(
      fc.property(graphs(400), ({ parents, size, random }) => {
        // Set up: the graph's ancestry.
        const { ancestry } = ancestryOf(parents, size)
        const names = [...parents.keys(), "x0", "x3", "never-seen"]

        // Act and check: random pairs, and each value against itself.
        for (let pair = 0; pair < 200; pair++) {
          const later = names[Math.floor(random() * names.length)]!
          const earlier = names[Math.floor(random() * names.length)]!
          expect(ancestry.follows(later, earlier), `${later} follows ${earlier}`).toBe(reachable(parents, later).has(earlier))
        }
        for (const value of parents.keys()) expect(ancestry.follows(value, value), value).toBe(reachable(parents, value).has(value))
      }),
      { numRuns: 150 }
    )
  })

  it("covers a set of values and their ancestors, and finds the first of a stretch of the layout that a cover lacks", () => {
    fc.assert(
      fc.property(graphs(400), ({ parents, size, random }) => {
        // Set up: the graph's ancestry and a few values, as a read returns siblings.
        const { ancestry, layout } = ancestryOf(parents, size)
        const chosen = Array.from({ length: 1 + Math.floor(random() * 3) }, () => `v${Math.floor(random() * size)}`)
        const expected = new Set(chosen)
        for (const value of chosen) for (const ancestor of reachable(parents, value)) expected.add(ancestor)

        // Act: their cover.
        const cover = ancestry.cover(chosen)

        // Check: membership of every value, and the first missing number of random stretches.
        for (const value of [...parents.keys(), "x1", "never-seen"]) expect(ancestry.has(cover, value), value).toBe(expected.has(value))
        for (let stretch = 0; stretch < 20; stretch++) {
          const from = Math.floor(random() * size)
          const to = from + Math.floor(random() * (size - from + 1))
          const plain = layout.slice(from, to).findIndex((value) => !expected.has(value))
          expect(ancestry.firstMissing(cover, from, to), `[${from}, ${to})`).toBe(plain < 0 ? -1 : from + plain)
        }
      }),
      { numRuns: 150 }
    )
  })

  it("a chain of 20,000 writes, past two levels of the tree: each follows every earlier one, and a cover of the last skips whole full nodes", () => {
    // Set up: v0 <- v1 <- ... <- v19999, and a value written beside the chain that nothing follows.
    const size = 20_000
    const parents = new Map<string, Array<string>>(Array.from({ length: size }, (_, index) => [`v${index}`, index === 0 ? [] : [`v${index - 1}`]]))
    parents.set("aside", ["v100"])
    const layout = [...Array.from({ length: size }, (_, index) => `v${index}`), "aside"]
    const ancestry = new Ancestry((value) => parents.get(value), layout, parents.keys())

    // Act: the last value's cover.
    const cover = ancestry.cover([`v${size - 1}`])

    // Check: the chain is covered whole, the value aside is the first missing, and order holds.
    expect(ancestry.firstMissing(cover, 0, size)).toBe(-1)
    expect(ancestry.firstMissing(cover, 0, size + 1)).toBe(size)
    expect(ancestry.follows(`v${size - 1}`, "v0")).toBe(true)
    expect(ancestry.follows("v0", `v${size - 1}`)).toBe(false)
    expect(ancestry.follows("aside", "v100")).toBe(true)
    expect(ancestry.follows("aside", "v101")).toBe(false)
    expect(ancestry.firstMissing(ancestry.cover(["aside"]), 0, size)).toBe(101)
  })
})
