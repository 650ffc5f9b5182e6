/**
 * What thread/start, thread/fork and thread/resume answer about a loaded thread: the thread (with
 * or without its turns) and its effective settings, and for a resume the history cursors codex hands
 * out (`turnsBackwardsCursor`, `itemsBackwardsCursor`) so a client that resumed without turns can
 * page back through them (threads/historyPages.ts).
 *
 * It must never change a thread: it only reads the live thread and its rollout's outline.
 */
import { readProjectInstructions } from './projectDocs'
import { resolveCodexDeskHome } from '../home'
import type { ResultOf } from '../protocol/registry'
import { sharedHistoryPages, type HistorySource, type ResumeCursors } from './historyPages'
import type { LiveThread } from './liveThread'
import { startResponse, type ResolvedThreadSettings } from './threadSettings'

export type StartResponse = ResultOf<'thread/start'>
export type ResumeResponse = ResultOf<'thread/resume'>

/** Where a page of a loaded thread's history is read from: its rollout and its turns in memory. */
export function historySourceOf(live: LiveThread): HistorySource {
  const thread = live.snapshot(false)
  return {
    threadId: live.id,
    path: thread.path,
    ephemeral: thread.ephemeral,
    liveTurns: live.turnsSnapshot(),
  }
}

/** The cursors a resume answers: at the newest turn and item, included (null for an empty thread). */
export function resumeCursorsOf(live: LiveThread): Promise<ResumeCursors> {
  return sharedHistoryPages.resumeCursors(historySourceOf(live))
}

/** thread/start's and thread/fork's answer. */
export function threadResponse(
  live: LiveThread,
  settings: ResolvedThreadSettings,
  withTurns: boolean,
): StartResponse {
  return {
    ...startResponse(live.snapshot(withTurns), settings),
    instructionSources: instructionSources(settings),
  }
}

/** The AGENTS.md files the thread's model is given for its folder (the TUI's /status shows them). */
function instructionSources(settings: ResolvedThreadSettings): string[] {
  return readProjectInstructions(settings.cwd, settings.config, resolveCodexDeskHome()).sources
}

/** thread/resume's answer: thread/start's, codex-desk's one collaboration mode, and the cursors. */
export function resumeResponse(
  live: LiveThread,
  settings: ResolvedThreadSettings,
  withTurns: boolean,
  cursors: ResumeCursors,
): ResumeResponse {
  return { ...threadResponse(live, settings, withTurns), collaborationMode: null, ...cursors }
}
