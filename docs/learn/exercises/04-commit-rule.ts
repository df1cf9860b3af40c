// Chapter 4 exercise: when may a Raft leader commit an entry because a majority holds it? Edit
// `commitByCounting`, then run `npx tsx docs/learn/check.ts 4`. As given, it is Figure 8's mistake.
import type { RaftRules } from "../../../src/protocols/raft/types.ts"
import { raftProtocol } from "../../../src/protocols/raft/definition.ts"

/**
 * A leader in `currentTerm` finds a majority holding an entry of `entryTerm`: may it commit that
 * entry (and everything before it) by counting those replicas?
 */
export const commitByCounting: RaftRules["commitByCounting"] = ({ entryTerm, currentTerm }) => entryTerm <= currentTerm

/** Your rule as a protocol, for the command line: `--protocol raft-exercise --protocols docs/learn/exercises/04-commit-rule.ts`. */
export const protocols = [raftProtocol("raft-exercise", { config: (config) => ({ ...config, rules: { commitByCounting } }) })]
