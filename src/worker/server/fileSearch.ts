/**
 * Fuzzy file search handlers: `fuzzyFileSearch` (a new request with the same `cancellationToken`
 * cancels the older one, which answers with no files) and the sessions (`sessionStart`, `Update`,
 * `Stop`) that report `fuzzyFileSearch/sessionUpdated` and `sessionCompleted` to the connection that
 * started them. The search code (and fzf) loads on first use, off the cold-start path.
 *
 * It must never send a session's results to another connection, and drops a connection's sessions
 * and tokens when it closes.
 */
import type { fileSearchRequests } from '../protocol/fileSearch'
import { invalidRequest } from '../protocol/errors'
import type { CancelToken, FileSearchEngine, FileSearchSession } from '../search/fileSearch'
import type { ConnectionId } from '../transport/connection'
import type { AppServer } from './appServer'
import type { Handler } from './context'

type FileSearchHandlers = { [M in keyof typeof fileSearchRequests]: Handler<M> }

const key = (connectionId: ConnectionId, id: string): string => `${connectionId}\u0000${id}`

/**
 * A session as soon as `sessionStart` arrives: updates sent right behind it (as the TUI sends them)
 * wait for the search code to load instead of finding no session.
 */
class SessionHandle {
  session: FileSearchSession | null = null
  private pending: string | null = null
  private stopped = false

  attach(session: FileSearchSession): void {
    if (this.stopped) return session.stop()
    this.session = session
    if (this.pending !== null) session.update(this.pending)
    this.pending = null
  }

  update(query: string): void {
    if (this.session) this.session.update(query)
    else this.pending = query
  }

  stop(): void {
    this.stopped = true
    this.session?.stop()
  }
}

export class FileSearchService {
  private engine: Promise<{ engine: FileSearchEngine; Session: typeof FileSearchSession }> | null = null
  private readonly sessions = new Map<string, SessionHandle>()
  private readonly tokens = new Map<string, CancelToken>()

  constructor(private readonly core: AppServer) {}

  private load(): Promise<{ engine: FileSearchEngine; Session: typeof FileSearchSession }> {
    this.engine ??= import('../search/fileSearch').then((module) => ({
      engine: new module.FileSearchEngine(),
      Session: module.FileSearchSession,
    }))
    return this.engine
  }

  handlers(): FileSearchHandlers {
    return {
      fuzzyFileSearch: async (params, ctx) => {
        const token: CancelToken = { cancelled: false }
        const name =
          params.cancellationToken != null ? key(ctx.connection.id, params.cancellationToken) : null
        if (name !== null) {
          const previous = this.tokens.get(name)
          if (previous) previous.cancelled = true
          this.tokens.set(name, token)
        }
        try {
          const { engine } = await this.load()
          return { files: await engine.search(params.query, params.roots, token) }
        } finally {
          if (name !== null && this.tokens.get(name) === token) this.tokens.delete(name)
        }
      },
      'fuzzyFileSearch/sessionStart': async (params, ctx) => {
        const connectionId = ctx.connection.id
        const { sessionId } = params
        const name = key(connectionId, sessionId)
        this.sessions.get(name)?.stop()
        const handle = new SessionHandle()
        this.sessions.set(name, handle)
        const { engine, Session } = await this.load()
        const router = this.core.router
        handle.attach(
          new Session(engine, params.roots, {
            updated: (query, files) =>
              void router.notify(connectionId, 'fuzzyFileSearch/sessionUpdated', { sessionId, query, files }),
            completed: () =>
              void router.notify(connectionId, 'fuzzyFileSearch/sessionCompleted', { sessionId }),
          }),
        )
        return {}
      },
      'fuzzyFileSearch/sessionUpdate': (params, ctx) => {
        const session = this.sessions.get(key(ctx.connection.id, params.sessionId))
        if (!session) throw invalidRequest(`fuzzy file search session not found: ${params.sessionId}`)
        // The response goes first, then what the new query finds (as codex orders them).
        ctx.afterResponse(() => session.update(params.query))
        return {}
      },
      'fuzzyFileSearch/sessionStop': (params, ctx) => {
        const name = key(ctx.connection.id, params.sessionId)
        this.sessions.get(name)?.stop()
        this.sessions.delete(name)
        return {}
      },
    }
  }

  connectionClosed(connectionId: ConnectionId): void {
    const prefix = `${connectionId}\u0000`
    for (const [name, session] of [...this.sessions]) {
      if (!name.startsWith(prefix)) continue
      session.stop()
      this.sessions.delete(name)
    }
    for (const [name, token] of [...this.tokens]) {
      if (!name.startsWith(prefix)) continue
      token.cancelled = true
      this.tokens.delete(name)
    }
  }

  dispose(): void {
    for (const session of this.sessions.values()) session.stop()
    this.sessions.clear()
    void this.engine?.then(({ engine }) => engine.dispose())
  }
}
