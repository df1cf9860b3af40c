// Reads a file the user named, turning a failure into the one-line problem every command reports.
import { readFileSync } from "node:fs"

/** The file's text, or a one-line problem naming the file and what it was meant to be. */
export const readInputFile = (file: string, what: string): { readonly text: string } | { readonly problem: string } => {
  try {
    return { text: readFileSync(file, "utf8") }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    return { problem: `${file}: cannot read ${what} (${code === "ENOENT" ? "no such file" : code ?? "unreadable"})` }
  }
}
