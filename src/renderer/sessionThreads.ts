/**
 * The session's thread actions (session.ts adds the composer queue on top): open a thread (or an
 * archived one, to read), start one (in the chosen folder, the most recent one, or the core's own),
 * send a message as a new turn, interrupt, archive, unarchive, rename, load more of the list, and
 * change what a thread's next turns run with. Each is a protocol request over the connection of the
 * base class (sessionConnection.ts) whose answer feeds the store.
 *
 * It never touches the DOM or Node, and a failed request is a notice for the user (or the reason
 * handed back to the control that asked), never an uncaught error.
 */
import { failedAsArchived, readArchivedThread } from './archivedThread'
import { defaultFolder } from './state/threadSettings'
import type { AppServerClient } from '../worker/protocol/client'
import { messageOf, OPEN_THREAD_KEY, SessionConnection, THREAD_PAGE } from './sessionConnection'

/** A working folder the core refused because it is not there (any more). */
const NO_FOLDER = /does not exist|is not a folder/

export abstract class SessionThreads extends SessionConnection {
  /** Why the last thread/start failed (for the folder form), null after one succeeded. */
  lastStartError: string | null = null
  /** A thread/start in flight (newThread), which a Send made meanwhile waits for. */
  protected startingThread: Promise<string | null> | null = null
  /** The archived thread opened to read (archivedThread.ts): read, not resumed. */
  private archivedOpen: string | null = null

  // ── actions ──────────────────────────────────────────────────────────────────────────────────

  async openThread(threadId: string): Promise<void> {
    return this.show(threadId, false)
  }

  /** `archived`: read it (archivedThread.ts) instead of resuming it. */
  private async show(threadId: string, archived: boolean): Promise<void> {
    const previous = this.store.state.openThreadId
    if (
      previous === threadId &&
      this.store.state.view?.phase !== 'error' &&
      !!this.store.state.view?.archived === archived
    )
      return
    this.archivedOpen = archived ? threadId : null
    this.store.closeThread()
    this.store.openThread(threadId)
    this.options.storage?.setItem(OPEN_THREAD_KEY, threadId)
    const client = this.client
    if (!client || !this.initialized.has(client)) return // resumed once connected
    if (previous !== threadId) this.unsubscribe(client, previous)
    await this.resume(client, threadId)
  }

  /** Opens an archived thread to read its history (it cannot take a turn until unarchived). */
  async openArchivedThread(threadId: string): Promise<void> {
    await this.show(threadId, true)
  }

  /** Unarchives the open archived thread and opens it again as a normal one (resumed). */
  async unarchiveOpenThread(threadId: string): Promise<boolean> {
    if (!(await this.unarchive(threadId))) return false
    if (this.store.state.openThreadId === threadId) await this.show(threadId, false)
    return true
  }

  /** An archived thread is read instead of resumed; one found archived on resume is read then. */
  protected override async resume(client: AppServerClient, threadId: string): Promise<void> {
    if (this.archivedOpen !== threadId) {
      await super.resume(client, threadId)
      if (!failedAsArchived(this.store, threadId)) return
      this.archivedOpen = threadId
    }
    await readArchivedThread(client, this.store, threadId)
  }

  /**
   * thread/start with no overrides; the new thread opens. Resolves with its id, or null on failure.
   * The thread open before is left at once, so the view and the composer belong to the thread being
   * started; a second call (or a Send) while it starts waits for the same thread instead of starting
   * another.
   */
  newThread(cwd?: string | null): Promise<string | null> {
    this.startingThread ??= this.startThread(cwd).finally(() => (this.startingThread = null))
    return this.startingThread
  }

  /**
   * In `cwd`, or else the most recent folder (a remembered one that is gone is forgotten and the
   * core's own folder used), or else the core's own.
   */
  private async startThread(cwd?: string | null): Promise<string | null> {
    const folder = cwd === undefined ? defaultFolder(this.threadSettings) : cwd
    const started = await this.startThreadIn(folder, cwd !== undefined)
    if (started !== 'gone' || !folder) return started === 'gone' ? null : started
    this.threadSettings.forgetFolder(folder)
    return this.startThreadIn(null, false).then((id) => (id === 'gone' ? null : id))
  }

  private async startThreadIn(cwd: string | null, chosen: boolean): Promise<string | null | 'gone'> {
    const client = this.requireClient('Could not start a thread')
    if (!client) return null
    const previous = this.store.state.openThreadId
    this.store.closeThread()
    if (previous) {
      this.options.storage?.removeItem(OPEN_THREAD_KEY)
      this.unsubscribe(client, previous)
    }
    try {
      const { thread } = await client.request('thread/start', cwd ? { cwd } : {}, {
        onResult: (r) => {
          this.threadSettings.fromResponse(r.thread.id, r)
          // Unless the user picked another thread meanwhile, the new one opens.
          if (this.store.state.openThreadId !== null) return
          this.store.openThread(r.thread.id)
          this.store.applyThreadSnapshot(r.thread)
        },
      })
      if (cwd) this.threadSettings.rememberFolder(cwd)
      this.lastStartError = null
      if (this.store.state.openThreadId === thread.id) {
        this.options.storage?.setItem(OPEN_THREAD_KEY, thread.id)
      }
      return thread.id
    } catch (error) {
      if (cwd && !chosen && NO_FOLDER.test(messageOf(error))) return 'gone'
      this.lastStartError = messageOf(error)
      if (chosen && NO_FOLDER.test(this.lastStartError)) return null // the folder form shows it
      this.fail('Could not start a thread', error, client)
      return null
    }
  }

  /** Starts a turn with the text (in a new thread when none is open). False when it failed. */
  async sendMessage(text: string): Promise<boolean> {
    const client = this.requireClient('Could not send the message')
    if (!client) return false
    // A thread being started (New thread, then Send at once) is the one the message goes to.
    const threadId =
      (this.startingThread ? await this.startingThread : this.store.state.openThreadId) ??
      (await this.newThread())
    if (!threadId) return false
    try {
      await client.request(
        'turn/start',
        { threadId, input: [{ type: 'text', text, text_elements: [] }] },
        { onResult: (r) => this.store.applyNotification('turn/started', { threadId, turn: r.turn }) },
      )
      return true
    } catch (error) {
      this.fail('Could not send the message', error, client)
      return false
    }
  }

  async interrupt(): Promise<void> {
    const threadId = this.store.state.openThreadId
    const turn = this.store.runningTurn()
    if (!threadId || !turn) return
    await this.act('Could not interrupt the turn', (client) =>
      client.request('turn/interrupt', { threadId, turnId: turn.id }),
    )
  }

  /** Archives the thread; true when it was archived (the list offers to undo it). */
  async archive(threadId: string): Promise<boolean> {
    const archived = await this.act('Could not archive the thread', async (client) => {
      await client.request('thread/archive', { threadId })
      this.store.applyNotification('thread/archived', { threadId })
      if (this.options.storage?.getItem(OPEN_THREAD_KEY) === threadId) {
        this.options.storage.removeItem(OPEN_THREAD_KEY)
      }
      return true
    })
    return archived ?? false
  }

  /** Brings an archived thread back (Undo, or the archived view); the list is loaded again. */
  async unarchive(threadId: string): Promise<boolean> {
    const restored = await this.act('Could not unarchive the thread', async (client) => {
      await client.request('thread/unarchive', { threadId })
      if (this.store.state.listFilter.archived) this.store.dropFromList(threadId)
      else await this.loadThreads(client)
      return true
    })
    return restored ?? false
  }

  async rename(threadId: string, name: string): Promise<boolean> {
    const renamed = await this.act('Could not rename the thread', async (client) => {
      await client.request('thread/name/set', { threadId, name })
      this.store.applyNotification('thread/name/updated', { threadId, threadName: name })
      return true
    })
    return renamed ?? false
  }

  async loadMoreThreads(): Promise<void> {
    const cursor = this.store.state.moreThreadsCursor
    if (!cursor) return
    await this.act('Could not load more threads', async (client) => {
      const generation = this.listGeneration
      const page = await client.request('thread/list', {
        cursor,
        limit: THREAD_PAGE,
        sortKey: 'created_at',
        sortDirection: 'desc',
        ...this.listParams(),
      })
      if (generation === this.listGeneration) this.store.addThreadPage(page.data, page.nextCursor)
    })
  }

  /**
   * Changes what the thread's next turns run with. Resolves with null, or with the reason it failed
   * (for the control that asked; no notice).
   */
  async changeThreadSettings(
    threadId: string,
    change: { cwd?: string; model?: string; effort?: string | null },
  ): Promise<string | null> {
    const client = this.client
    if (!client || !this.initialized.has(client)) return 'Not connected to the core.'
    try {
      await client.request('thread/settings/update', { threadId, ...change })
      if (change.cwd) this.threadSettings.rememberFolder(change.cwd)
      return null
    } catch (error) {
      return messageOf(error)
    }
  }
}
