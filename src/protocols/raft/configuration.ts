// Membership arithmetic: building configurations, applying single-server changes (thesis §4.1),
// and the majority rules that elections, commitment and check-quorum share.
import { assert, absurd } from "./assert.ts"
import type { ConfigChange, Configuration, NodeId } from "./types.ts"

/** The configuration of a server that has not learned its cluster yet. */
export const emptyConfiguration: Configuration = { voters: [] }

/** Builds a configuration from distinct voter ids, sorted so that equal sets compare equal. */
export function makeConfiguration(voters: ReadonlyArray<NodeId>): Configuration {
  const sorted = [...voters].sort()
  for (let i = 1; i < sorted.length; i++) {
    assert(sorted[i] !== sorted[i - 1], () => `duplicate voter ${sorted[i]}`)
  }
  return { voters: sorted }
}

/** Returns the configuration after `change`; a change that does nothing returns it unchanged. */
export function applyConfigChange(configuration: Configuration, change: ConfigChange): Configuration {
  switch (change._tag) {
    case "AddNode":
      if (isVoter(configuration, change.node)) return configuration
      return makeConfiguration([...configuration.voters, change.node])
    case "RemoveNode":
      return makeConfiguration(configuration.voters.filter((voter) => voter !== change.node))
    default:
      return absurd(change)
  }
}

/** Whether `id` votes in `configuration`. */
export function isVoter(configuration: Configuration, id: NodeId): boolean {
  return configuration.voters.includes(id)
}

/** The number of voters that make a majority. */
export function quorumSize(configuration: Configuration): number {
  return Math.floor(configuration.voters.length / 2) + 1
}

/**
 * The largest index that a majority of voters hold, given each voter's match index: sort the
 * matches in decreasing order and take the quorum-th one (§5.3, §5.4).
 */
export function quorumMatchIndex(configuration: Configuration, matchOf: (voter: NodeId) => number): number {
  assert(configuration.voters.length > 0, "quorumMatchIndex needs at least one voter")
  // The quorumSize-th largest match: the index a majority holds. Voter sets are small, and this
  // runs on every acknowledgement, so an insertion sort of a fresh array suffices.
  const voters = configuration.voters
  const matches = new Array<number>(voters.length)
  for (let position = 0; position < voters.length; position++) {
    const match = matchOf(voters[position]!)
    let slot = position
    while (slot > 0 && matches[slot - 1]! < match) {
      matches[slot] = matches[slot - 1]!
      slot--
    }
    matches[slot] = match
  }
  const index = matches[quorumSize(configuration) - 1]
  assert(index !== undefined, "quorum index is within the voters")
  return index
}

/** The state of an election given the votes received so far. */
export type VoteResult = "Won" | "Lost" | "Pending"

/** Tallies `votes` (granted or rejected, by voter); votes from non-voters do not count. */
export function voteResult(configuration: Configuration, votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  let granted = 0
  let rejected = 0
  for (const voter of configuration.voters) {
    const vote = votes.get(voter)
    if (vote === true) granted++
    if (vote === false) rejected++
  }
  const quorum = quorumSize(configuration)
  if (granted >= quorum) return "Won"
  if (rejected > configuration.voters.length - quorum) return "Lost"
  return "Pending"
}

/** Whether the voters for which `holds` is true make a majority. */
export function hasQuorum(configuration: Configuration, holds: (voter: NodeId) => boolean): boolean {
  return configuration.voters.filter(holds).length >= quorumSize(configuration)
}
