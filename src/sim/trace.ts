// The run's trace: one JSON line per event, hashed with SHA-256 as it is written, optionally kept for a file or an audit.
import { createHash, type Hash } from "node:crypto"
import { formatTraceLine, type TraceLine } from "../trace/index.ts"

/** Collects trace lines, hashes them, and keeps them when asked (for `--trace` and the determinism audit). */
export class TraceRecorder {
  private readonly hash: Hash = createHash("sha256")
  /** Lines not hashed yet, newline-terminated. Concatenation builds a rope that hashing flattens once. */
  private pending = ""
  readonly lines: Array<string> | undefined
  count = 0

  constructor(options: { readonly keepLines: boolean }) {
    this.lines = options.keepLines ? [] : undefined
  }

  /** Adds one line. */
  write(line: TraceLine): void {
    this.writeText(formatTraceLine(line))
  }

  /**
   * Adds a line already formatted by the trace schema's serializer (`timerLineText` and its kin),
   * for the lines the simulator writes from their fields, without a line object.
   */
  writeText(line: string): void {
    this.count++
    this.lines?.push(line)
    this.pending += line + "\n"
    // Hashing in batches costs far less than one update per line.
    if (this.pending.length > 65536) this.flush()
  }

  private flush(): void {
    if (this.pending.length === 0) return
    this.hash.update(this.pending)
    this.pending = ""
  }

  /** The SHA-256 of every line written, each followed by a newline. Call once, at the end. */
  digest(): string {
    this.flush()
    return this.hash.digest("hex")
  }
}
