// The trace schema's one public entry: the line types, their serializer and their parser, shared by both worlds and every reader.
//
// Nothing here imports the simulator or the real runtime: both write through it, and checkers,
// exporters and viewers read through it.
export {
  dropLineText,
  eventLineText,
  formatSendLine,
  formatTraceLine,
  sendLineText,
  syncLineText,
  timerLineText
} from "./format-trace-line.ts"
export {
  type NumberedTraceLine,
  parseNumberedTraceFile,
  parseTraceEvents,
  parseTraceFile,
  parseTraceLine,
  TRACE_FAULT_FIELDS,
  TRACE_LINE_FIELDS,
  type TraceFileEvent,
  validateTraceLine
} from "./parse-trace-line.ts"
export type {
  ConnectionLine,
  DeliverLine,
  DiskErrorLine,
  DropLine,
  DropReason,
  DuplicateLine,
  EventLine,
  FaultLine,
  HoldLine,
  PhaseLine,
  RunLine,
  SendLine,
  SpanEndLine,
  SpanStartLine,
  StartLine,
  SyncLine,
  TimerLine,
  TornWrite,
  TraceFault,
  TraceLine,
  TraceLineKind,
  ViolationLine
} from "./trace-line.ts"
export {
  formatTraceParent,
  isTraceParent,
  OpenSpans,
  parseTraceParent,
  type SpanContextIds,
  spanAttributes,
  spanAttributeValue
} from "./span-model.ts"
