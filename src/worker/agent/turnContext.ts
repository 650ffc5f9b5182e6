/**
 * The context a turn's first request carries, as codex 0.169 sends it: a `<permissions instructions>`
 * developer message (sandbox and approval policy), the user's AGENTS.md instructions, and the
 * `<environment_context>` message. The first turn of a thread gets all three, with the skills list
 * (agent/skillContext.ts) ahead of the permissions in their developer message; a later turn gets only
 * what changed since the model was last told (a new folder, sandbox or approval policy from
 * thread/settings/update or turn/start, a new day), and nothing when nothing did. AGENTS.md is read
 * again only when the folder changes.
 *
 * What was sent is recorded in the thread's history (history.ts `TURN_CONTEXT_TYPE`), persisted like
 * any other input item, so a resumed or forked thread knows what its model has already heard, and a
 * history that loses it (compaction) gets the context again. It must never add context in the middle
 * of a turn: only before the turn's first model request.
 */
import { resolveCodexDeskHome } from '../home'
import type { ModelHistoryEntry } from '../threads/rollout'
import type { LiveThread } from '../threads/liveThread'
import type { ResolvedThreadSettings } from '../threads/threadSettings'
import {
  environmentChanged,
  filesystemXml,
  localDate,
  renderEnvironmentContext,
  shellName,
  timeZone,
  type EnvironmentFacts,
} from './environmentContext'
import { buildInput, isTurnContext, TURN_CONTEXT_TYPE, type TurnContextEntry } from './history'
import { leadingMessages } from './instructions'
import { permissionsInstructions } from './prompts/permissions'
import { agentsMessageText, readProjectInstructions } from '../threads/projectDocs'
import { developerMessageOf, skillsFor, skillsInstructions, turnSkillMessages } from './skillContext'

/** What the model has been told, as recorded with the messages that told it. */
export interface TurnContextState {
  environment: EnvironmentFacts
  permissions: string
  /** The AGENTS.md message last sent (null: none), and the folder it was read for. */
  agents: string | null
  agentsCwd: string
}

const userText = (text: string) => ({
  type: 'message',
  role: 'user',
  content: [{ type: 'input_text', text }],
})

/** The last context the thread's model heard, or null when it has heard none. */
function lastState(history: readonly ModelHistoryEntry[]): TurnContextState | null {
  for (let i = history.length - 1; i >= 0; i--) {
    const item = history[i]?.item
    if (isTurnContext(item)) return item.state as TurnContextState
  }
  return null
}

/** True until the model has been sampled in this turn (only user input recorded so far). */
function turnNotSampled(history: readonly ModelHistoryEntry[], turnId: string): boolean {
  for (let i = history.length - 1; i >= 0; i--) {
    const entry = history[i] as ModelHistoryEntry
    if (entry.turnId !== turnId) break
    const item = entry.item as { type?: unknown; role?: unknown }
    if (item.type !== 'message' || item.role !== 'user') return false
  }
  return true
}

/** The context entry to record before this turn's first request, or null when the model knows it all. */
export async function contextUpdate(
  history: readonly ModelHistoryEntry[],
  turnId: string,
  settings: ResolvedThreadSettings,
  home: string,
  now = new Date(),
): Promise<TurnContextEntry<TurnContextState> | null> {
  if (!turnNotSampled(history, turnId)) return null
  const previous = lastState(history)
  // Loaded with the tools by the time a turn samples; kept out of the threads subsystem's cold start.
  const { PROTECTED_NAMES, writableRoots } = await import('./sandbox/sandbox')
  const { cwd, sandboxPolicy } = settings
  const zone = timeZone()
  const environment: EnvironmentFacts = {
    cwd,
    shell: shellName(),
    currentDate: localDate(now, zone),
    timezone: zone,
    filesystem: filesystemXml(sandboxPolicy, cwd, PROTECTED_NAMES),
  }
  const permissions = permissionsInstructions(
    sandboxPolicy,
    settings.approvalMode,
    writableRoots(sandboxPolicy, cwd),
  )
  let agents = previous?.agents ?? null
  let agentsChanged = false
  if (!previous || previous.agentsCwd !== cwd) {
    const docs = readProjectInstructions(cwd, settings.config, home)
    const next = docs.text !== null ? agentsMessageText(cwd, docs.text, previous?.agents != null) : null
    agentsChanged = next !== null && next !== previous?.agents
    if (next !== null) agents = next
  }
  // The skills list goes once per thread (codex does not repeat it when the folder changes).
  const skills = previous ? null : skillsInstructions(await skillsFor(home, cwd))
  const developer = [
    ...(skills ? [skills] : []),
    ...(previous?.permissions !== permissions ? [permissions] : []),
  ]
  const permissionsItem = developer.length > 0 ? [developerMessageOf(developer)] : []
  const agentsItem = agentsChanged && agents !== null ? [userText(agents)] : []
  const envItem = environmentChanged(environment, previous?.environment ?? null)
    ? [userText(renderEnvironmentContext(environment, previous?.environment ?? null))]
    : []
  // codex's order: permissions first in a thread's first context, AGENTS.md first in an update.
  const items = previous
    ? [...agentsItem, ...permissionsItem, ...envItem]
    : [...permissionsItem, ...agentsItem, ...envItem]
  if (items.length === 0) return null
  return { type: TURN_CONTEXT_TYPE, state: { environment, permissions, agents, agentsCwd: cwd }, items }
}

/**
 * The input of a turn's next request: records what the model must be told first (through `record`,
 * which persists the item and adds it to the history), then the instructions and the history.
 */
export async function turnInput(
  thread: Pick<LiveThread, 'sticky' | 'history'> & Partial<Pick<LiveThread, 'running' | 'turns'>>,
  turnId: string,
  settings: ResolvedThreadSettings,
  record: (item: unknown) => Promise<void>,
  home: string = resolveCodexDeskHome(),
): Promise<unknown[]> {
  const fresh = turnNotSampled(thread.history, turnId)
  const update = await contextUpdate(thread.history, turnId, settings, home)
  if (update) await record(update)
  // Skills the user named follow the user's message, before the first request only.
  if (fresh)
    for (const item of await turnSkillMessages(thread, turnId, settings.cwd, home)) await record(item)
  return buildInput(thread.history, await leadingMessages(thread, settings, home))
}
