// A node's local clock: true simulated time scaled by a drift rate, plus an offset that steps can change.

/**
 * local(t) = t * (1 + drift) + offset, in microseconds. Changing the drift keeps the clock continuous;
 * a step changes the offset only. Timers run at the drifted rate, so a node whose clock runs fast
 * also times out early, as a real one would.
 */
export class NodeClock {
  private drift = 0
  private offsetUs = 0

  localUs(trueUs: number): number {
    return trueUs * (1 + this.drift) + this.offsetUs
  }

  /** True microseconds that pass while this clock advances `localDurationUs`. */
  trueDurationUs(localDurationUs: number): number {
    return localDurationUs / (1 + this.drift)
  }

  setOffset(trueUs: number, offsetMs: number): void {
    // The offset is relative to true time at this instant, whatever drift has accumulated.
    this.offsetUs = offsetMs * 1000 - trueUs * this.drift
  }

  step(deltaMs: number): void {
    this.offsetUs += deltaMs * 1000
  }

  setDrift(trueUs: number, drift: number): void {
    if (drift <= -1) throw new Error(`clock drift must be greater than -1, got ${drift}`)
    const local = this.localUs(trueUs)
    this.drift = drift
    this.offsetUs = local - trueUs * (1 + drift)
  }

  reset(trueUs: number): void {
    this.setDrift(trueUs, 0)
    this.offsetUs = 0
  }
}
