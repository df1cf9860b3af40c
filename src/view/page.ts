// Writes the viewer as one self-contained HTML file: styles, the run's data as JSON, and the page's code, with no network at view time.
import { gzipSync } from "node:zlib"
import * as diagram from "./client/diagram.ts"
import * as main from "./client/main.ts"
import * as panels from "./client/panels.ts"
import * as timeline from "./client/timeline.ts"
import * as viewerState from "./client/viewer-state.ts"
import type { ViewData } from "./view-data.ts"

// The page's code is the functions of src/view/client, written out with Function.prototype.toString:
// they are type-checked and linted with the rest, need no bundler, and the compiled CLI and tsx
// give the same page. Each function uses only the others (they become one script's top-level
// functions), never its module's imports of values.
const clientModules: ReadonlyArray<Readonly<Record<string, unknown>>> = [viewerState, diagram, timeline, panels, main]

const clientScript = (): string => {
  const functions = clientModules.flatMap((module) => Object.values(module).filter((value) => typeof value === "function"))
  // tsx (esbuild's keepNames) may wrap functions in __name(...); in the page that is the identity.
  return ["\"use strict\";", "var __name = (target) => target;", ...functions.map((code) => code.toString()), "startViewer().catch((error) => { document.body.prepend(String(error)); throw error; });"].join("\n")
}

const STYLE = `
body { font: 13px/1.4 system-ui, sans-serif; margin: 0 16px 32px; color: #222; }
h1 { font-size: 18px; margin: 12px 0 4px; }
h2 { font-size: 15px; margin: 18px 0 4px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0 12px; margin: 4px 0; }
dt { color: #666; } dd { margin: 0; }
.checks span { margin-right: 12px; } .ok { color: #2a7a2a; } .violated, .violation { color: #c00; font-weight: 600; }
.note { color: #777; } pre { background: #f4f4f4; padding: 6px 8px; overflow-x: auto; margin: 2px 0; }
canvas { width: 100%; display: block; border: 1px solid #ddd; cursor: crosshair; }
#controls { margin: 6px 0; } .filter { margin: 6px 0; display: flex; flex-wrap: wrap; gap: 2px 10px; } .filter label { white-space: nowrap; }
#controls input[type=number] { width: 90px; }
#tooltip { position: absolute; display: none; max-width: 440px; white-space: pre-wrap; word-break: break-all; background: #fffbe6;
  border: 1px solid #c9b458; padding: 6px 8px; font: 12px/1.35 ui-monospace, monospace; pointer-events: none; z-index: 2; }
#witness { border: 2px solid #d00; padding: 4px 12px; margin-top: 10px; background: #fff5f5; }
.legend { color: #555; font-size: 12px; }
`

const BODY = `
<section id="summary"></section>
<h2>Messages (space-time diagram)</h2>
<div id="controls">
  window from <input id="from" type="number" step="any"> ms to <input id="to" type="number" step="any"> ms
  <button id="apply">show</button> <button id="reset">whole run</button>
  <span class="legend">wheel: zoom · drag: pan · double-click: whole run · hover: details ·
  <span style="color:#d00">×</span> dropped · dashed: held by a clog · red band: crashed · grey: paused · orange: partitioned ·
  <span style="color:#e0a000">◆</span> becomeLeader · <span style="color:#1060d0">◆</span> clock fault · red line: violation</span>
</div>
<div id="filters"></div>
<canvas id="diagram"></canvas>
<section id="timeline-section">
<h2>Client operations</h2>
<div class="legend"><span style="color:#3a9d4a">■</span> ok · <span style="color:#e08a1e">■</span> fail · <span style="color:#a8a8a8">■</span> unknown (info) ·
  red outline: operations the linearizability checker found with no valid order</div>
<canvas id="timeline"></canvas>
<div id="witness"></div>
</section>
<div id="tooltip"></div>
`

/** The viewer page for `data`: one HTML file, opened from disk. */
export const viewPage = (data: ViewData): string => {
  // Base64 has no "<", so no text in a trace can close the script element; gzip makes the page a tenth of the JSON.
  const packed = gzipSync(JSON.stringify(data), { level: 9 }).toString("base64")
  const title = data.summary.title.replace(/[<>&"]/g, (character) => `&#${character.charCodeAt(0)};`)
  return [
    "<!doctype html>",
    `<html lang="en"><head><meta charset="utf-8"><title>${title} · faultline view</title>`,
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'">`,
    `<style>${STYLE}</style></head><body>`,
    BODY,
    `<script id="view-data" type="application/octet-stream">${packed}</script>`,
    `<script>${clientScript()}</script>`,
    "</body></html>",
    ""
  ].join("\n")
}
