// The course (docs/learn): every exercise's reference solution passes its checker, and every exercise as handed out fails it,
// so a checker that accepted anything would be caught here.
import { describe, expect, it } from "vitest"
import { checkExercise, EXERCISES } from "../docs/learn/check.ts"

const SOLUTIONS: Readonly<Record<string, string>> = {
  "1": "docs/learn/solutions/01-deliverable.ts",
  "2": "docs/learn/solutions/02-clocks.ts",
  "3": "docs/learn/solutions/03-pre-vote.yaml",
  "4": "docs/learn/solutions/04-commit-rule.ts"
}

describe("the course's exercises", () => {
  it("has a reference solution for every exercise", () => {
    expect(Object.keys(SOLUTIONS)).toEqual(Object.keys(EXERCISES))
  })

  for (const chapter of Object.keys(EXERCISES)) {
    it(`chapter ${chapter}: the reference solution passes the checker and the exercise as handed out does not`, async () => {
      const solution = await checkExercise(chapter, SOLUTIONS[chapter]!)
      expect(solution.lines.join("\n")).not.toContain("✗")
      expect(solution.ok).toBe(true)
      const starter = await checkExercise(chapter, EXERCISES[chapter]!)
      expect(starter.ok).toBe(false)
      expect(starter.lines.join("\n")).toContain("✗")
    })
  }

  it("names a module's missing export instead of failing inside the checker", async () => {
    const verdict = await checkExercise("2", "docs/learn/solutions/01-deliverable.ts")
    expect(verdict).toEqual({ ok: false, lines: ["✗ docs/learn/solutions/01-deliverable.ts must export compare and lamportReceive"] })
  })
})
