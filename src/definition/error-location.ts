// Where an error from a user's code happened, for one-line messages: a protocol module that fails to load, a build that throws.
import { relative } from "node:path"
import { fileURLToPath } from "node:url"

/** A place in a file, as a stack frame or a compiler names it. */
export interface SourcePlace {
  readonly file: string
  readonly line: number
  readonly column: number | undefined
}

/** Faultline's own code (src/ or dist/): frames there are not where a user's error is. */
const faultlineRoot = fileURLToPath(new URL("../", import.meta.url))

/** A path from a path or a file URL (without any query tsx adds). */
export const toPath = (fileOrUrl: string): string => (fileOrUrl.startsWith("file://") ? fileURLToPath(fileOrUrl.replace(/\?.*$/, "")) : fileOrUrl)

/** A place as the user would type it: relative to the working directory when it is inside it. */
export const formatPlace = (place: SourcePlace, options: { readonly column: boolean } = { column: true }): string => {
  const file = relative(process.cwd(), place.file)
  const shown = file.startsWith("..") ? place.file : file
  return options.column && place.column !== undefined ? `${shown}:${place.line}:${place.column}` : `${shown}:${place.line}`
}

/**
 * The user's frame in a stack: the first in `preferredFile` (a module being loaded), else the first
 * that is neither Faultline's own, nor a dependency's, nor Node's. Undefined when there is none.
 */
export const userStackPlace = (error: unknown, preferredFile?: string): SourcePlace | undefined => {
  const stack = error instanceof Error ? error.stack ?? "" : ""
  const frames = [...stack.matchAll(/(?:\(|at )(file:\/\/[^\s()]+?|\/[^\s()]+?):(\d+):(\d+)\)?$/gm)].map((match) => ({
    file: toPath(match[1]!),
    line: Number(match[2]),
    column: Number(match[3])
  }))
  return (
    (preferredFile === undefined ? undefined : frames.find((frame) => frame.file === preferredFile)) ??
    frames.find((frame) => !frame.file.includes("/node_modules/") && !frame.file.startsWith(faultlineRoot))
  )
}

/** The first line of an error's message. */
export const errorMessage = (error: unknown): string => String(error instanceof Error ? error.message : error).split("\n")[0] ?? ""
