// A leader's view of one follower (etcd's tracker.Progress): nextIndex and matchIndex (§5.3),
// plus the flow control that decides when the leader may send it more entries.
import { absurd, assert } from "./assert.ts"

/**
 * How the leader is replicating to a follower:
 * - `Probe`: the leader does not know where the logs diverge; it sends one AppendEntries and
 *   waits for the answer (or a heartbeat response) before sending another.
 * - `Replicate`: the logs match up to `match`; the leader streams entries optimistically, at most
 *   `maxInflightAppends` unacknowledged messages at a time.
 * - `Snapshot`: the follower needs entries the leader has compacted; an InstallSnapshot is in
 *   flight and nothing else is sent until it is answered or times out.
 */
export type ProgressState = "Probe" | "Replicate" | "Snapshot"

/**
 * A bounded FIFO of the last indices of AppendEntries messages sent but not yet acknowledged,
 * the in-flight window of the `Replicate` state.
 */
export class Inflights {
  private readonly lastIndices: number[] = []

  constructor(readonly capacity: number) {
    assert(capacity >= 1, () => `in-flight capacity ${capacity} must be at least 1`)
  }

  /** Records a message whose last entry is `lastIndex`. */
  add(lastIndex: number): void {
    assert(!this.full(), "in-flight window overflow")
    // at(-1): [length - 1] of an empty array is a slow megamorphic read of key -1 (see advanceReady).
    const previous = this.lastIndices.at(-1)
    assert(previous === undefined || lastIndex > previous, () => `in-flight ${lastIndex} is not increasing`)
    this.lastIndices.push(lastIndex)
  }

  /** Frees every message whose last entry is at or below `index`. */
  freeLE(index: number): void {
    let freed = 0
    while (freed < this.lastIndices.length && (this.lastIndices[freed] ?? Infinity) <= index) freed++
    this.lastIndices.splice(0, freed)
  }

  /** Frees the oldest message, so that a lost one cannot block the window forever. */
  freeFirstOne(): void {
    this.lastIndices.shift()
  }

  full(): boolean {
    return this.lastIndices.length >= this.capacity
  }

  count(): number {
    return this.lastIndices.length
  }

  reset(): void {
    this.lastIndices.length = 0
  }
}

/** The replication state of one follower, as the leader sees it. */
export class Progress {
  /** The highest index known to match the leader's log (§5.3 matchIndex). */
  match = 0
  /** The next index to send (§5.3 nextIndex). */
  next: number
  state: ProgressState = "Probe"
  /** In `Probe`, whether a probe is outstanding. */
  probeSent = false
  /** In `Snapshot`, the index of the snapshot sent. */
  pendingSnapshot = 0
  /** In `Snapshot`, leader ticks since the snapshot was sent; a lost snapshot is retried. */
  snapshotTicks = 0
  /** Whether the follower answered since the last check-quorum round. */
  recentActive = false
  readonly inflights: Inflights

  constructor(options: { next: number; maxInflightAppends: number }) {
    assert(options.next >= 1, () => `next index ${options.next} must be at least 1`)
    this.next = options.next
    this.inflights = new Inflights(options.maxInflightAppends)
  }

  /** Starts probing from the index after `match` (or after the snapshot just installed). */
  becomeProbe(): void {
    const next = this.state === "Snapshot" ? Math.max(this.match + 1, this.pendingSnapshot + 1) : this.match + 1
    this.reset("Probe")
    this.next = next
  }

  /** Gives up on a snapshot that went unanswered (it may have been lost) and probes again. */
  abortSnapshot(): void {
    assert(this.state === "Snapshot", "only a pending snapshot can be aborted")
    this.reset("Probe")
    this.next = this.match + 1
  }

  /** Starts streaming after `match`. */
  becomeReplicate(): void {
    this.reset("Replicate")
    this.next = this.match + 1
  }

  /** Waits for the snapshot at `snapshotIndex` to be installed. */
  becomeSnapshot(snapshotIndex: number): void {
    this.reset("Snapshot")
    this.pendingSnapshot = snapshotIndex
  }

  private reset(state: ProgressState): void {
    this.state = state
    this.probeSent = false
    this.pendingSnapshot = 0
    this.snapshotTicks = 0
    this.inflights.reset()
  }

  /** Whether the leader must hold off sending AppendEntries to this follower. */
  isPaused(): boolean {
    switch (this.state) {
      case "Probe":
        return this.probeSent
      case "Replicate":
        return this.inflights.full()
      case "Snapshot":
        return true
      default:
        return absurd(this.state)
    }
  }

  /** Records that an AppendEntries with `count` entries ending at `lastIndex` was sent. */
  sentEntries(options: { count: number; lastIndex: number }): void {
    if (this.state === "Replicate") {
      if (options.count === 0) return
      this.next = options.lastIndex + 1
      this.inflights.add(options.lastIndex)
      return
    }
    assert(this.state === "Probe", "no AppendEntries is sent while a snapshot is pending")
    this.probeSent = true
  }

  /**
   * Records an acknowledgement up to `index`. Returns false if it told the leader nothing new
   * (a duplicate or reordered response).
   */
  maybeUpdate(index: number): boolean {
    if (index <= this.match) return false
    this.match = index
    this.next = Math.max(this.next, index + 1)
    this.probeSent = false
    return true
  }

  /**
   * Handles a rejection of the AppendEntries whose prevLogIndex was `rejected`, given the
   * follower's hint that its log may match the leader's at `matchHint` at best. Returns false for
   * a stale rejection that must be ignored.
   */
  maybeDecrementTo(options: { rejected: number; matchHint: number }): boolean {
    if (this.state === "Replicate") {
      // Entries up to match are acknowledged, so a rejection at or below it is out of date.
      if (options.rejected <= this.match) return false
      this.next = this.match + 1
      return true
    }
    // Outside Replicate only one probe is in flight, so only its answer is current.
    if (this.next - 1 !== options.rejected) return false
    this.next = Math.max(Math.min(options.rejected, options.matchHint + 1), this.match + 1)
    this.probeSent = false
    return true
  }
}
