// Checks a chapter's exercise: `npx tsx docs/learn/check.ts <chapter> [your module or scenario]`; exit 0 when the change works.
import { resolve } from "node:path"
import { pathToFileURL } from "node:url"
import { checkClocks, checkCommitRule, checkDeliverable, checkPreVote, type Verdict } from "./checkers.ts"

/** Each chapter's exercise file, the one the student edits. */
export const EXERCISES: Readonly<Record<string, string>> = {
  "1": "docs/learn/exercises/01-deliverable.ts",
  "2": "docs/learn/exercises/02-clocks.ts",
  "3": "docs/learn/exercises/03-pre-vote.yaml",
  "4": "docs/learn/exercises/04-commit-rule.ts"
}

/** What each chapter's module must export. */
const REQUIRED_EXPORTS: Readonly<Record<string, ReadonlyArray<string>>> = { "1": ["deliverable"], "2": ["compare", "lamportReceive"], "4": ["protocols"] }

/** Runs chapter `chapter`'s checker on `file` (an exercise module, or for chapter 3 a scenario). */
export const checkExercise = async (chapter: string, file: string): Promise<Verdict> => {
  if (chapter === "3") return checkPreVote(file)
  const loaded = (await import(pathToFileURL(resolve(file)).href)) as Record<string, unknown>
  const missing = (REQUIRED_EXPORTS[chapter] ?? []).filter((name) => loaded[name] === undefined)
  if (missing.length > 0) return { ok: false, lines: [`✗ ${file} must export ${missing.join(" and ")}`] }
  // The exports are there; their types are the exercise file's, which the type check keeps as given.
  const module = loaded as never
  switch (chapter) {
    case "1":
      return checkDeliverable(module, file)
    case "2":
      return checkClocks(module)
    case "4":
      return checkCommitRule(module, file)
    default:
      return { ok: false, lines: [`no chapter ${chapter}: the exercises are chapters ${Object.keys(EXERCISES).join(", ")}`] }
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [chapter = "", file] = process.argv.slice(2)
  const verdict = await checkExercise(chapter, file ?? EXERCISES[chapter] ?? "")
  process.stdout.write(verdict.lines.join("\n") + `\n\n${verdict.ok ? "✓ it works" : "✗ not yet"}\n`)
  process.exitCode = verdict.ok ? 0 : 1
}
