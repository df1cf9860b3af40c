// The page's text panels: the summary (parameters, seed, checks, replay command), the filters and the witness (browser code, see page.ts).
/// <reference lib="dom" />
import type { ViewerState } from "./viewer-state.ts"
import { formatUs, typeColour } from "./viewer-state.ts"

// Functions here run in the page, like diagram.ts's: only each other and the other client files.

/** Appends an element with text (never HTML: trace text is data, not markup). */
export function addElement(parent: HTMLElement, tag: string, text: string, className?: string): HTMLElement {
  const element = document.createElement(tag)
  element.textContent = text
  if (className !== undefined) element.className = className
  parent.appendChild(element)
  return element
}

/** Fills the summary panel. */
export function renderSummary(state: ViewerState, panel: HTMLElement): void {
  const summary = state.data.summary
  addElement(panel, "h1", summary.title)
  const facts = addElement(panel, "dl", "")
  const fact = (name: string, value: string): void => {
    addElement(facts, "dt", name)
    addElement(facts, "dd", value)
  }
  fact("protocol", `${summary.protocol} (${summary.nodes} nodes)`)
  fact("seed", String(summary.seed))
  fact("simulated", formatUs(summary.endUs) + (summary.livenessStartUs === null ? "" : `, faults healed at ${formatUs(summary.livenessStartUs)}`))
  fact("messages", Object.entries(summary.counts).map(([name, count]) => `${count.toLocaleString("en-US")} ${name}`).join(", "))
  if (summary.traceHash !== null) fact("trace hash", summary.traceHash)
  const checks = addElement(panel, "p", "", "checks")
  for (const check of summary.checks) addElement(checks, "span", `${check.ok ? "✓" : "✗"} ${check.name}`, check.ok ? "ok" : "violated")
  if (!summary.checksComplete) addElement(checks, "span", summary.checks.length === 0 ? "no violation in the trace" : "(violations read from the trace)", "note")
  for (const violation of summary.violations) {
    addElement(panel, "p", `✗ ${violation.check} at ${formatUs(violation.timeUs)}: ${violation.message}`, "violation")
  }
  for (const note of summary.notes) addElement(panel, "p", `note: ${note}`, "note")
  if (summary.replay !== null) {
    addElement(panel, "p", "replay:", "label")
    addElement(panel, "pre", summary.replay, "replay")
  }
  if (summary.parameters !== null) {
    const details = addElement(panel, "details", "")
    addElement(details, "summary", "scenario")
    addElement(details, "pre", summary.parameters)
  }
}

/** Builds the node and message-type checkboxes; `changed` redraws. */
export function renderFilters(state: ViewerState, panel: HTMLElement, changed: () => void): void {
  const group = (title: string, names: Array<string>, on: Array<boolean>, colour: (name: string) => string | null): void => {
    const box = addElement(panel, "div", "", "filter")
    addElement(box, "strong", `${title}: `)
    names.forEach((name, index) => {
      const label = addElement(box, "label", "")
      const input = document.createElement("input")
      input.type = "checkbox"
      input.checked = true
      input.dataset["filter"] = `${title}:${name}`
      input.addEventListener("change", () => {
        on[index] = input.checked
        changed()
      })
      label.appendChild(input)
      const swatch = colour(name)
      if (swatch !== null) addElement(label, "span", "■ ").style.color = swatch
      label.appendChild(document.createTextNode(`${name} `))
    })
  }
  group("nodes", state.data.lanes, state.laneOn, () => null)
  group("messages", state.data.types, state.typeOn, typeColour)
}

/** Explains the linearizability witness in words, as the checker printed it, and lists its operations. */
export function renderWitness(state: ViewerState, panel: HTMLElement): void {
  const witness = state.data.witness
  if (witness === null) {
    panel.style.display = "none"
    return
  }
  addElement(panel, "h3", `✗ linearizability: key ${witness.key} — these operations have no valid order`)
  addElement(panel, "p", witness.message)
  const list = addElement(panel, "ol", "")
  for (const operation of state.data.operations) {
    if (!state.witness.has(operation.invokeIndex)) continue
    const end = operation.endUs === null ? "never completed" : formatUs(operation.endUs)
    const item = addElement(list, "li", `client ${operation.process}: ${operation.text} (${formatUs(operation.startUs)} to ${end})`)
    item.dataset["witness"] = `${operation.process}:${operation.f}:${operation.invokeIndex}`
  }
}
