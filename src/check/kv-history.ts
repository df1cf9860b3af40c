// What every key-value checker shares: the clients' history as it is reported in `history` trace
// events, and the liveness rule that some operation succeeds soon after the faults heal.
import type { FinalState, ProtocolEvent } from "./checker.ts"
import type { HistoryEvent } from "./history.ts"

/** Reports one violation of `check`. */
export type Report = (check: string, message: string, timeUs: number) => void

/**
 * Collects the clients' history (Jepsen format, simulated time in nanoseconds) from `history`
 * events, and judges `liveness`: once the faults heal, some client operation succeeds within
 * `livenessBoundMs`. Raft's checker and the quorum store's both use it.
 */
export class KvHistoryRecorder {
  /** The clients' history, in order. */
  readonly history: Array<HistoryEvent> = []
  private livenessStartUs: number | undefined
  private firstOkAfterHealUs: number | undefined
  private invokedAfterHeal = false

  constructor(private readonly livenessBoundMs: number) {}

  /** True once the liveness phase has started. */
  get livenessStarted(): boolean {
    return this.livenessStartUs !== undefined
  }

  onLivenessStart(timeUs: number): void {
    this.livenessStartUs = timeUs
  }

  /** Records a `history` event; returns the history entry it made. */
  record(event: ProtocolEvent): HistoryEvent {
    const report = event.attributes as Omit<HistoryEvent, "index" | "time">
    const index = this.history.length
    const time = event.timeUs * 1000
    // Two literal shapes rather than a spread of an optional part: this runs for every operation's
    // invoke and completion, and the fields keep their order either way.
    const historyEvent: HistoryEvent = report.value === undefined || (report.value === null && report.type === "invoke")
      ? { index, process: report.process, type: report.type, f: report.f, key: report.key, time }
      : { index, process: report.process, type: report.type, f: report.f, key: report.key, value: report.value, time }
    this.history.push(historyEvent)
    if (this.livenessStartUs !== undefined && event.timeUs >= this.livenessStartUs) {
      if (report.type === "invoke") this.invokedAfterHeal = true
      if (report.type === "ok" && this.firstOkAfterHealUs === undefined) this.firstOkAfterHealUs = event.timeUs
    }
    return historyEvent
  }

  /**
   * Judges `liveness` at the end of the run, reporting through `report`. A workload that issued
   * nothing after healing is a violation (the scenario proves nothing), unless `note` is given: a
   * store whose other liveness checks need a quiet tail (convergence) may let its workload end first.
   */
  checkLiveness(final: FinalState, report: Report, note?: (message: string) => void): void {
    if (this.livenessStartUs === undefined) return
    const boundUs = this.livenessBoundMs * 1000
    if (this.firstOkAfterHealUs === undefined && !this.invokedAfterHeal && note !== undefined) {
      note("liveness: the workload ended before the faults healed, so no operation was judged")
    } else if (this.firstOkAfterHealUs === undefined) {
      const why = this.invokedAfterHeal ? "none succeeded" : "the workload issued none (make it longer)"
      report("liveness", `no client operation succeeded after the faults healed: ${why}`, final.timeUs)
    } else if (this.firstOkAfterHealUs - this.livenessStartUs > boundUs) {
      const tookMs = (this.firstOkAfterHealUs - this.livenessStartUs) / 1000
      report("liveness", `the first operation after healing succeeded only after ${tookMs} ms (bound ${this.livenessBoundMs} ms)`, final.timeUs)
    }
  }
}

/** Keeps at most five violations per check, so one broken rule does not flood a report. */
export const boundedReport = (violations: Array<{ check: string; message: string; timeUs: number }>): Report =>
  (check, message, timeUs) => {
    if (violations.filter((violation) => violation.check === check).length >= 5) return
    violations.push({ check, message, timeUs })
  }
