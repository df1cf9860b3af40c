// One shard replica's HNSW index (hnswlib-node): real approximate search, grown as it fills, rebuilt from the log on restart.
import type hnswlib from "hnswlib-node"
import { assert } from "../assert.ts"

/** Distance space: hnswlib's `l2` (squared Euclidean) or `cosine` (1 - cosine similarity). */
export type Space = "l2" | "cosine"

/** How each replica builds its index. */
export interface IndexOptions {
  readonly space: Space
  readonly dimensions: number
  /** Graph degree. */
  readonly m: number
  readonly efConstruction: number
  /** hnswlib's level generator seed: with a fixed insertion order, the same seed builds the same graph. */
  readonly randomSeed: number
}

const INITIAL_CAPACITY = 1024

/** hnswlib-node's module: an optional peer dependency (a native addon built from source), provided by whoever loads it. */
export type HnswLibrary = typeof hnswlib

let library: HnswLibrary | undefined

/**
 * Makes hnswlib-node available to the search protocol. The registry loads it when it is installed;
 * a protocol may not load modules itself (lint keeps src/protocols free of imports at run time).
 */
export const provideHnswLibrary = (provided: HnswLibrary): void => {
  library = provided
}

/** Whether hnswlib-node was provided: without it the search protocol cannot build its indexes. */
export const hnswLibraryAvailable = (): boolean => library !== undefined

/**
 * A shard's index and the ids it holds. Inserts must come in log order (the node applies its log in
 * order, live and on replay), which with the fixed seed makes the graph, and every answer, deterministic.
 */
export class ShardIndex {
  private readonly index: hnswlib.HierarchicalNSW
  private readonly live = new Set<number>()
  private readonly deleted = new Set<number>()

  constructor(readonly options: IndexOptions) {
    assert(library !== undefined, "hnswlib-node was not provided (see provideHnswLibrary)")
    this.index = new library.HierarchicalNSW(options.space, options.dimensions)
    this.index.initIndex({
      maxElements: INITIAL_CAPACITY,
      m: options.m,
      efConstruction: options.efConstruction,
      randomSeed: options.randomSeed,
      allowReplaceDeleted: false
    })
  }

  get size(): number {
    return this.live.size
  }

  has(id: number): boolean {
    return this.live.has(id)
  }

  /** Adds `id` (re-adding a deleted id revives it with the new vector, as hnswlib's update does). */
  insert(id: number, vector: ReadonlyArray<number>): void {
    assert(vector.length === this.options.dimensions, () => `vector ${id} has ${vector.length} dimensions, not ${this.options.dimensions}`)
    if (this.deleted.delete(id)) this.index.unmarkDelete(id)
    const count = this.index.getCurrentCount()
    if (!this.live.has(id) && count >= this.index.getMaxElements()) this.index.resizeIndex(count * 2)
    this.index.addPoint(vector as Array<number>, id)
    this.live.add(id)
  }

  delete(id: number): void {
    if (!this.live.delete(id)) return
    this.index.markDelete(id)
    this.deleted.add(id)
  }

  /** The k nearest live ids, nearest first (fewer if the shard holds fewer). */
  search(vector: ReadonlyArray<number>, k: number, ef: number): { ids: Array<number>; distances: Array<number> } {
    const wanted = Math.min(k, this.live.size)
    if (wanted === 0) return { ids: [], distances: [] }
    this.index.setEf(Math.max(ef, wanted))
    const result = this.index.searchKnn(vector as Array<number>, wanted)
    return { ids: result.neighbors, distances: result.distances }
  }
}
