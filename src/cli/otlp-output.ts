// Where `faultline run` sends a simulated run's spans: an OTLP JSON file (`--otlp`) or a collector (`--otlp-endpoint`).
import { closeSync, openSync, writeSync } from "node:fs"
import { UsageError } from "./errors.ts"

/**
 * The traces URL for `--otlp-endpoint`: a collector's base URL (`http://localhost:4318`) gets
 * OTLP/HTTP's `/v1/traces`, as `OTEL_EXPORTER_OTLP_ENDPOINT` does; a URL with a path is used as
 * it is, as `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is. Checked before the run, so a typo costs no run.
 */
export const parseOtlpEndpoint = (text: string): URL => {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new UsageError(`--otlp-endpoint: expected an http:// or https:// URL, got "${text}"`)
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UsageError(`--otlp-endpoint: expected an http:// or https:// URL, got "${text}"`)
  }
  if (url.pathname === "/" || url.pathname === "") url.pathname = "/v1/traces"
  return url
}

/**
 * `--otlp-origin`: where simulated time 0 falls in the exported spans, as Unix milliseconds, or
 * `now` (so a tracing UI's default "last hour" search finds the run). Default 0, the epoch: only a
 * fixed origin gives the same bytes for the same seed.
 */
export const parseOtlpOrigin = (text: string | undefined): number => {
  if (text === undefined) return 0
  if (text.trim() === "now") return Date.now()
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`--otlp-origin: expected Unix milliseconds or "now", got "${text}"`)
  }
  return Number(text)
}

/** The line end after the export in a file. */
const NEWLINE = Buffer.from("\n")

/**
 * Writes the OTLP JSON export to `file`, a line of its own: `pieces` hands its UTF-8 bytes over in
 * order (see `SpanExport.writeOtlp`, which never puts the request together in memory). A file that
 * cannot be written is bad input.
 */
export const writeOtlpFile = (file: string, pieces: (write: (piece: Uint8Array) => void) => void): void => {
  let descriptor: number | undefined
  try {
    descriptor = openSync(file, "w")
    const opened = descriptor
    pieces((piece) => writeFully(opened, piece))
    writeFully(opened, NEWLINE)
  } catch (error) {
    throw new UsageError(`--otlp: cannot write ${file} (${(error as NodeJS.ErrnoException).code ?? "error"})`)
  } finally {
    if (descriptor !== undefined) closeSync(descriptor)
  }
}

/** Writes all of `bytes`: a write to a file may take less than it was given. */
const writeFully = (descriptor: number, bytes: Uint8Array): void => {
  for (let done = 0; done < bytes.length; ) done += writeSync(descriptor, bytes, done, bytes.length - done)
}

/** How long a collector may take to answer. */
const POST_TIMEOUT_MS = 10_000

/** Posts the export to a collector as OTLP/HTTP JSON; no collector there, or a refusal, is one line (exit 2). */
export const postOtlp = async (url: URL, json: Uint8Array<ArrayBuffer>): Promise<void> => {
  let response: Response
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: json,
      signal: AbortSignal.timeout(POST_TIMEOUT_MS)
    })
  } catch (error) {
    const cause = (error as { cause?: { code?: string; errors?: Array<{ code?: string }>; message?: string } }).cause
    const reason = cause?.code ?? cause?.errors?.[0]?.code ?? cause?.message ?? (error as Error).message
    throw new UsageError(`--otlp-endpoint: cannot post to ${url.href} (${reason})`)
  }
  // Drain the answer, so the connection closes and the process can exit.
  const body = await response.text().catch(() => "")
  if (!response.ok) {
    throw new UsageError(`--otlp-endpoint: ${url.href} answered ${response.status}${body === "" ? "" : `: ${body.split("\n")[0]!.slice(0, 200)}`}`)
  }
}
