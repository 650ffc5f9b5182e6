/**
 * The renderer's view of the protocol: thread titles, status badges, list order, connection
 * texts, and the streaming text of an item. Pure functions over the wire shapes (types only from
 * src/worker/protocol, so nothing here pulls zod into the bundle); the store and the views share
 * them, and the unit tests pin them. Never touches the DOM.
 */
import type { RequestId } from '../../worker/protocol/jsonrpc'
import type { Thread, ThreadItem, ThreadStatus, TurnStatus } from '../../worker/protocol/items'

export type { RequestId, Thread, ThreadItem, ThreadStatus, TurnStatus }

/** `data-status` of a status badge (docs/renderer.md). */
export type BadgeStatus = 'idle' | 'active' | 'waitingOnApproval' | 'systemError' | 'notLoaded'

export interface Badge {
  status: BadgeStatus
  label: string
}

const BADGE_LABELS: Record<BadgeStatus, string> = {
  idle: 'idle',
  active: 'running',
  waitingOnApproval: 'waiting for approval',
  systemError: 'error',
  notLoaded: 'idle',
}

export function badgeOf(status: ThreadStatus): Badge {
  let key: BadgeStatus
  if (status.type === 'active') {
    key = status.activeFlags.includes('waitingOnApproval') ? 'waitingOnApproval' : 'active'
  } else key = status.type
  return { status: key, label: BADGE_LABELS[key] }
}

/** The thread's name, else its preview, else `New thread`. */
export function threadTitle(thread: Pick<Thread, 'name' | 'preview'> | null | undefined): string {
  const name = thread?.name?.trim()
  if (name) return name
  const preview = thread?.preview?.trim()
  return preview || 'New thread'
}

/** A sub-agent thread's parent: `parentThreadId`, else the spawn source's `parent_thread_id`. */
export function parentThreadIdOf(thread: Pick<Thread, 'parentThreadId' | 'source'>): string | null {
  if (thread.parentThreadId) return thread.parentThreadId
  const source = thread.source
  if (typeof source === 'object' && 'subAgent' in source) {
    const sub = source.subAgent
    if (typeof sub === 'object' && 'thread_spawn' in sub) return sub.thread_spawn.parent_thread_id
  }
  return null
}

/** Sub-agent threads stay out of the list (thread/list leaves them out too); links reach them. */
export function isSubAgentThread(thread: Pick<Thread, 'source'>): boolean {
  return typeof thread.source === 'object' && 'subAgent' in thread.source
}

/** Newest first: `createdAt` descending, then the id (a UUIDv7 sorts by time) descending. */
export function compareNewestFirst(a: Thread, b: Thread): number {
  if (a.createdAt !== b.createdAt) return b.createdAt - a.createdAt
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0
}

/** A map key for a server request id: `2` and `"2"` are different requests. */
export function requestKey(id: RequestId): string {
  return typeof id === 'number' ? `n:${id}` : `s:${id}`
}

/** The text a streaming item grows: agent message text, reasoning summary, command output. */
export function streamTextOf(item: ThreadItem): string | null {
  switch (item.type) {
    case 'agentMessage':
      return item.text
    case 'reasoning':
      return item.summary.join('\n\n')
    case 'commandExecution':
      return item.aggregatedOutput ?? ''
    default:
      return null
  }
}

/** The text of a user message's inputs, one line per input. */
export function userMessageText(item: Extract<ThreadItem, { type: 'userMessage' }>): string {
  return item.content
    .map((input) => {
      switch (input.type) {
        case 'text':
          return input.text
        case 'image':
          return `[image ${input.url ?? input.fileId ?? ''}]`.replace(' ]', ']')
        case 'localImage':
          return `[image ${input.path}]`
        case 'mention':
          return `@${input.name}`
        case 'skill':
          return `[skill ${input.name}]`
        default:
          return `[${input.type}]`
      }
    })
    .join('\n')
}

export function turnStatusText(status: TurnStatus, errorMessage: string | null | undefined): string {
  switch (status) {
    case 'inProgress':
      return 'running'
    case 'failed':
      return `failed: ${errorMessage ?? 'unknown error'}`
    default:
      return status
  }
}

// ── connection ─────────────────────────────────────────────────────────────────────────────────

export type ConnectionCause =
  /** Never connected yet: why the attempt failed. */
  | { kind: 'refused'; message: string }
  /** Connected before: how the last connection ended. */
  | { kind: 'lost'; code: number; reason: string }

export type ConnectionView =
  | { state: 'connecting' }
  | { state: 'connected'; userAgent: string }
  | { state: 'reconnecting'; cause: ConnectionCause; retryInMs: number }
  | { state: 'offline'; message: string }

function seconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000))
}

/** The indicator's text (docs/renderer.md, Connection indicator). */
export function connectionText(view: ConnectionView): string {
  switch (view.state) {
    case 'connecting':
      return 'Connecting…'
    case 'connected':
      return 'Connected'
    case 'offline':
      return `Cannot connect to the core: ${view.message}`
    case 'reconnecting': {
      const n = seconds(view.retryInMs)
      if (view.cause.kind === 'refused') {
        return `Cannot connect to the core: ${view.cause.message}. Retrying in ${n} s…`
      }
      const why = view.cause.reason ? `${view.cause.code} ${view.cause.reason}` : `${view.cause.code}`
      return `Disconnected from the core (${why}). Reconnecting in ${n} s…`
    }
  }
}
