/**
 * Reading an archived thread. Codex resumes no archived thread (thread/resume answers that it is
 * archived), but thread/read gives its whole history: the thread opens from the archived view (or
 * as the remembered open thread after a reload) read-only, marked archived in the store, and
 * Unarchive turns it back into a normal thread that is then resumed.
 *
 * It only reads: it never unarchives, resumes or starts a turn on its own.
 */
import type { AppServerClient } from '../worker/protocol/client'
import { messageOf } from './sessionConnection'
import type { DeskStore } from './state/store'

/** What thread/resume says of an archived thread (codex-desk's core, and codex's own wording). */
export const ARCHIVED_ERROR = /\barchived\b/i

/** thread/read with its turns into the open view, or the view's error. */
export async function readArchivedThread(
  client: AppServerClient,
  store: DeskStore,
  threadId: string,
): Promise<void> {
  try {
    const { thread } = await client.request('thread/read', { threadId, includeTurns: true })
    if (store.state.openThreadId === threadId) store.applyArchivedSnapshot(thread)
  } catch (error) {
    if (client.closedWith || store.state.openThreadId !== threadId) return
    store.threadLoadFailed(threadId, `Could not open the archived thread: ${messageOf(error)}`)
  }
}

/** The open thread failed to resume because it is archived (a reload, another window archived it). */
export function failedAsArchived(store: DeskStore, threadId: string): boolean {
  const view = store.state.view
  return view?.threadId === threadId && view.phase === 'error' && ARCHIVED_ERROR.test(view.error ?? '')
}
