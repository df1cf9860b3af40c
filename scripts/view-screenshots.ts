// Makes the viewer pictures of the README and the course (docs/*.png): runs each scenario with --view, opens the page
// in headless Chromium and screenshots it. Run with `npm run docs:screenshots`; the pictures are never edited by hand.
import { execFileSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { closeBrowser, launchBrowser } from "../test/fixtures/browser.ts"

/** One picture: the run it shows, the part of the page, and the window of simulated time. */
interface Shot {
  readonly output: string
  readonly run: ReadonlyArray<string>
  /** The visible window in microseconds; the whole run when absent. */
  readonly windowUs?: readonly [number, number]
  /** Which part of the page: the diagram (with the summary above it) or the client timeline. */
  readonly part: "page" | "timeline"
  /** Hover over the first message of this type sent after this time, so the picture shows its tooltip. */
  readonly hover?: { readonly type: string; readonly afterUs: number }
}

const shots: ReadonlyArray<Shot> = [
  { output: "docs/view-raft-figure-8.png", run: ["scenarios/raft-figure-8.yaml"], windowUs: [1_500_000, 4_500_000], part: "page" },
  { output: "docs/learn/images/causal-partitions.png", run: ["scenarios/causal-broadcast-partitions.yaml"], windowUs: [0, 6_000_000], part: "page" },
  {
    output: "docs/learn/images/causal-clocks.png",
    run: ["scenarios/causal-broadcast-partitions.yaml"],
    windowUs: [400_000, 900_000],
    part: "page",
    hover: { type: "Data", afterUs: 600_000 }
  },
  { output: "docs/learn/images/leader-crash.png", run: ["scenarios/raft-leader-crash.yaml"], windowUs: [1_500_000, 3_000_000], part: "page" },
  { output: "docs/learn/images/no-pre-vote.png", run: ["docs/learn/scenarios/03-no-pre-vote.yaml"], windowUs: [4_800_000, 6_200_000], part: "page" },
  {
    output: "docs/learn/images/unsynced-entries.png",
    run: ["test/fixtures/raft-bug-unsynced-entries.yaml", "--protocols", "test/fixtures/raft-unsynced-entries.ts"],
    part: "timeline"
  }
]

const root = resolve(import.meta.dirname, "..")
const directory = mkdtempSync(join(tmpdir(), "faultline-shots-"))
const browser = await launchBrowser()
try {
  for (const [index, shot] of shots.entries()) {
    const page = join(directory, `${index}.html`)
    try {
      execFileSync(process.execPath, [join(root, "bin", "faultline.js"), "run", ...shot.run, "--view", page], { cwd: root, stdio: "ignore" })
    } catch (error) {
      // A planted bug's run exits 1; its page is written all the same.
      if ((error as { status?: number }).status !== 1) throw error
    }
    const tab = await browser.newPage()
    await tab.setViewport({ width: 1100, height: 760 })
    await tab.goto(`file://${page}`)
    await tab.waitForFunction(() => "faultline" in window)
    if (shot.windowUs !== undefined) await tab.evaluate(`window.faultline.zoom(${shot.windowUs[0]}, ${shot.windowUs[1]})`)
    if (shot.hover !== undefined) {
      const index = await tab.evaluate(`window.faultline.arrowAfter(${shot.hover.afterUs}, ${JSON.stringify(shot.hover.type)})`)
      const point = (await tab.evaluate(`window.faultline.pointOn(${String(index)})`)) as { x: number; y: number }
      await tab.mouse.move(point.x, point.y)
    }
    const element = shot.part === "timeline" ? await tab.$("#timeline-section") : null
    if (element !== null) await element.screenshot({ path: join(root, shot.output) })
    else await tab.screenshot({ path: join(root, shot.output) })
    await tab.close()
    process.stdout.write(`wrote ${shot.output}\n`)
  }
} finally {
  await closeBrowser(browser)
  rmSync(directory, { recursive: true, force: true })
}
