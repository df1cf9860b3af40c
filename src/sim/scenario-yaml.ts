// A scenario's YAML read into plain data, with what the parser throws on hostile input (alias bombs,
// nesting deeper than the stack) turned into one-line messages like any other malformed file.
import { parseDocument } from "yaml"
import { ScenarioError } from "../definition/input.ts"

/**
 * How far aliases may expand, by the yaml package's own count. Its default (100) refuses a valid
 * file that names one anchor in 120 fault entries; this still refuses a "billion laughs" long
 * before it fills memory.
 */
const MAX_ALIAS_COUNT = 10_000

/** Parses scenario text (YAML) into plain data; throws a {@link ScenarioError} naming `file` (and the line, where known). */
export const parseScenarioYaml = (text: string, file: string): unknown => {
  const document = parseDocument(text, { prettyErrors: true })
  const yamlError = document.errors[0]
  if (yamlError !== undefined) {
    // With prettyErrors the message ends in " at line L, column C:" and a code excerpt; keep the sentence.
    const sentence = firstLine(yamlError.message).replace(/ at line \d+, column \d+:?$/, "")
    // Where the stack ran out says nothing about where the file is wrong, so nesting names no place.
    if (tooDeep(sentence)) throw new ScenarioError(`${file}: malformed YAML: ${NESTED_TOO_DEEPLY}`)
    const position = yamlError.linePos?.[0]
    const where = position === undefined ? "" : `${position.line}:${position.col}:`
    throw new ScenarioError(`${file}:${where} malformed YAML: ${sentence}`)
  }
  try {
    return document.toJS({ maxAliasCount: MAX_ALIAS_COUNT })
  } catch (error) {
    // The yaml package throws a ReferenceError for an alias bomb and for an alias of no anchor; a stack overflow is a RangeError.
    if (error instanceof ReferenceError) {
      throw new ScenarioError(`${file}: malformed YAML: ${/Excessive alias count/.test(error.message) ? "its aliases expand too far" : firstLine(error.message)}`)
    }
    if (error instanceof RangeError && tooDeep(error.message)) throw new ScenarioError(`${file}: malformed YAML: ${NESTED_TOO_DEEPLY}`)
    throw error
  }
}

const NESTED_TOO_DEEPLY = "nested too deeply"

const tooDeep = (message: string): boolean => message.includes("Maximum call stack size exceeded")

const firstLine = (text: string): string => text.split("\n")[0] ?? text
