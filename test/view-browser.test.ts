// The viewer in a real browser: the page of a run opens from disk in headless Chromium with no network, draws one
// arrow per message of the trace, shows a message on hover, and outlines exactly the linearizability checker's witness.
import { execFile } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { promisify } from "node:util"
import type { Browser, Page } from "puppeteer-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { parseTraceFile, type TraceLine } from "../src/trace/index.ts"
import { closeBrowser, launchBrowser } from "./fixtures/browser.ts"

const run = promisify(execFile)
const bin = resolve(import.meta.dirname, "..", "bin", "faultline.js")
const directory = mkdtempSync(join(tmpdir(), "faultline-view-"))
const file = (name: string): string => join(directory, name)

/** Runs the compiled CLI; a violated check (exit 1) is expected for the planted bug. */
const faultline = async (...args: Array<string>): Promise<void> => {
  try {
    await run(process.execPath, [bin, ...args], { maxBuffer: 64 * 1024 * 1024 })
  } catch (error) {
    if ((error as { code?: number }).code !== 1) throw error
  }
}

const traceOf = (name: string): Array<TraceLine> => {
  const lines = parseTraceFile(readFileSync(file(name), "utf8"), name)
  if (typeof lines === "string") throw new Error(lines)
  return lines
}

let browser: Browser | undefined

/** Opens a page from disk; fails the test on any script error and counts requests other than the file itself. */
const open = async (name: string): Promise<{ page: Page; errors: Array<string>; requests: Array<string> }> => {
  const page = await browser!.newPage()
  await page.setViewport({ width: 1400, height: 900 })
  const errors: Array<string> = []
  const requests: Array<string> = []
  const url = `file://${file(name)}`
  page.on("pageerror", (error) => errors.push(String(error)))
  page.on("request", (request) => {
    if (request.url() !== url) requests.push(request.url())
  })
  await page.goto(url)
  await page.waitForFunction(() => "faultline" in window, { timeout: 20_000 })
  return { page, errors, requests }
}

/** Evaluates an expression on the page's test hooks (`window.faultline`, see PageHooks), such as `drawn()`. */
const hooks = <T,>(page: Page, expression: string): Promise<T> => page.evaluate(`window.faultline.${expression}`) as Promise<T>

beforeAll(async () => {
  // The three runs and the browser start together: the test's time is the longest of them.
  const started = launchBrowser().then((launched) => (browser = launched))
  await Promise.all([
    faultline("run", "scenarios/raft-figure-8.yaml", "--trace", file("figure-8.jsonl")).then(() =>
      faultline("view", file("figure-8.jsonl"), "-o", file("figure-8.html"))
    ),
    faultline(
      "run", "test/fixtures/raft-bug-unsynced-entries.yaml", "--protocols", "test/fixtures/raft-unsynced-entries.ts",
      "--trace", file("bug.jsonl"), "--view", file("bug.html")
    ).then(() => faultline("view", file("bug.jsonl"), "-o", file("bug-from-trace.html"))),
    faultline("run", "scenarios/raft-random-faults.yaml", "--view", file("random-faults.html"), "--trace", file("random-faults.jsonl")),
    started
  ])
}, 120_000)

afterAll(async () => {
  await closeBrowser(browser)
  rmSync(directory, { recursive: true, force: true })
})

describe("faultline view in headless Chromium", () => {
  it("draws one arrow per message of the Figure 8 trace, offline, from a file under a few MB", async () => {
    const lines = traceOf("figure-8.jsonl")
    const messages = lines.filter((line) => line.e === "send" || line.e === "duplicate").length
    const { page, errors, requests } = await open("figure-8.html")
    const arrows = await hooks<number>(page, "arrows")
    const drawn = await hooks<number>(page, "drawn()")
    expect(errors).toEqual([])
    expect(requests).toEqual([])
    expect(messages).toBeGreaterThan(1000)
    expect(arrows).toBe(messages)
    expect(drawn).toBe(messages)
    expect(statSync(file("figure-8.html")).size).toBeLessThan(3_000_000)
    await page.close()
  })

  it("shows the message under the pointer, and filtering by node hides arrows", async () => {
    const lines = traceOf("figure-8.jsonl")
    // A message from n3 to n1 sent while n3 sent nothing else for 2 ms either way: a leader's
    // broadcast starts several arrows at one point, and the pointer must meet one alone.
    const sends = lines.flatMap((line) => (line.e === "send" ? [line] : []))
    const send = sends.find((line) =>
      line.from === "n3" && line.to === "n1" && line.t > 1_000_000 &&
      !sends.some((other) => other !== line && other.from === "n3" && Math.abs(other.t - line.t) < 2000))
    if (send === undefined) throw new Error("the trace has no message from n3 to n1 clear of others")
    const { page, errors } = await open("figure-8.html")
    const index = lines.filter((line) => line.e === "send" || line.e === "duplicate").indexOf(send)
    // Zoom in on the message, so no other arrow lies within a few pixels of it.
    await hooks(page, `zoom(${send.t - 2000}, ${(send.at ?? send.t) + 2000})`)
    const point = await hooks<{ x: number; y: number }>(page, `pointOn(${index})`)
    await page.mouse.move(point.x, point.y)
    const tooltip = await page.$eval("#tooltip", (element) => ({ shown: getComputedStyle(element).display !== "none", text: element.textContent ?? "" }))
    expect(tooltip.shown).toBe(true)
    expect(tooltip.text).toContain(`message ${send.id}`)
    expect(tooltip.text).toContain("n3 → n1")
    // Filter: without n1's lane, no arrow to or from n1 is drawn.
    const before = await hooks<number>(page, "drawn()")
    await page.click('input[data-filter="nodes:n1"]')
    const after = await hooks<number>(page, "drawn()")
    expect(after).toBeGreaterThan(0)
    expect(after).toBeLessThan(before)
    expect(errors).toEqual([])
    await page.close()
  })

  it("outlines exactly the operations the linearizability checker names in a planted-bug run, with its words and the replay, from the run or its trace", async () => {
    const violation = traceOf("bug.jsonl").find((line) => line.e === "violation" && line.check === "linearizability")
    if (violation?.e !== "violation") throw new Error("the planted bug did not break linearizability on its seed")
    // The checker's message names the witness: "key k5: write by process 1, read by process 3 cannot be linearized. ..."
    const named = /^key \S+: (.*?) cannot be linearized\./.exec(violation.message)![1]!.split(", ").sort()
    const { page, errors } = await open("bug.html")
    const outlined = await hooks<Array<{ process: number; f: string; invokeIndex: number }>>(page, "outlined()")
    expect(outlined.map((operation) => `${operation.f} by process ${operation.process}`).sort()).toEqual(named)
    // A page made from the trace file alone outlines the same operations.
    const fromTrace = await open("bug-from-trace.html")
    expect(await hooks(fromTrace.page, "outlined()")).toEqual(outlined)
    expect(fromTrace.errors).toEqual([])
    await fromTrace.page.close()
    const listed = await page.$$eval("#witness li", (items) => items.map((item) => item.getAttribute("data-witness")))
    expect(listed).toHaveLength(named.length)
    const text = await page.$eval("body", (element) => element.textContent ?? "")
    expect(text).toContain(violation.message)
    expect(text).toContain("npx faultline run test/fixtures/raft-bug-unsynced-entries.yaml --seed 1 --protocols test/fixtures/raft-unsynced-entries.ts")
    expect(text).toContain("✗ linearizability")
    expect(errors).toEqual([])
    await page.close()
  })

  it("stays responsive on a 60-second raft-random-faults run (time to first paint and message count are printed)", async () => {
    const messages = traceOf("random-faults.jsonl").filter((line) => line.e === "send" || line.e === "duplicate").length
    const { page, errors } = await open("random-faults.html")
    const firstPaintMs = await hooks<number>(page, "firstPaintMs")
    const redrawMs = await page.evaluate("(() => { const started = performance.now(); window.faultline.zoom(10000000, 40000000); return performance.now() - started })()") as number
    const drawn = await hooks<number>(page, "drawn()")
    const size = statSync(file("random-faults.html")).size
    process.stdout.write(
      `raft-random-faults: ${messages} message arrows, page ${(size / 1e6).toFixed(2)} MB, first paint ${Math.round(firstPaintMs)} ms, ` +
        `a zoomed redraw ${Math.round(redrawMs)} ms\n`
    )
    expect(messages).toBeGreaterThan(20_000)
    expect(drawn).toBeGreaterThan(0)
    expect(drawn).toBeLessThan(messages)
    expect(firstPaintMs).toBeLessThan(10_000)
    expect(redrawMs).toBeLessThan(1_000)
    expect(errors).toEqual([])
    await page.close()
  })
})
