/**
 * The rollout line format (docs/rollouts.md): one JSON object per line, `{timestamp, ordinal, type,
 * payload}`, in the spirit of codex's rollouts (protocol.md §13). The line types, their encoding and
 * a decoder that never throws. Replay (rebuilding a thread from lines) is in rollout.ts.
 *
 * It must never do I/O and never throw on bad input from disk: a torn or corrupt line is reported
 * and skipped, and everything else in the file is still used.
 */
import type { DynamicToolSpec } from '../protocol/tools'
import type {
  GitInfo,
  HistoryMode,
  SessionSource,
  ThreadItem,
  ThreadTokenUsage,
  TurnError,
  TurnStatus,
} from '../protocol/items'

// ---------------------------------------------------------------------------------------------
// Line types

/** The first line of every rollout: what the thread was created with. */
export interface SessionMeta {
  id: string
  /** Defaults to `id`. */
  sessionId?: string
  /** Seconds since the epoch. */
  createdAt: number
  cwd: string
  originator: string | null
  cliVersion: string
  source: SessionSource
  threadSource?: string | null
  modelProvider: string
  model: string | null
  reasoningEffort: string | null
  forkedFromId: string | null
  parentThreadId: string | null
  /** Always false on disk: ephemeral threads have no rollout. */
  ephemeral: false
  historyMode: HistoryMode
  agentNickname?: string | null
  agentRole?: string | null
  gitInfo?: GitInfo | null
  projectId?: string | null
  /** A fork starts with its source's name. */
  name?: string | null
  /** Tools the client serves for this thread (thread/start `dynamicTools`, validated). */
  dynamicTools?: DynamicToolSpec[]
  /**
   * The thread started while a config file could not be loaded: its model, provider and effort
   * are the built-in defaults, not a choice, so they follow the config (until the user picks one).
   */
  modelFromFallbackConfig?: boolean
}

/**
 * Sticky overrides use the turn/start param names (`model`, `effort`, `cwd`, `approvalPolicy`,
 * `sandboxPolicy`, ...). `model`, `modelProvider`, `effort` and `cwd` also change the Thread fields.
 */
export type ThreadSettings = Record<string, unknown>

export interface ThreadSettingsPayload {
  /** Present when the name changed; null clears it. */
  name?: string | null
  overrides?: ThreadSettings
}

export interface RolloutPayloads {
  session_meta: SessionMeta
  thread_settings: ThreadSettingsPayload
  /** `startedAt` in seconds. */
  turn_started: { turnId: string; startedAt: number; rootTurnId?: string | null }
  item_started: { turnId: string; item: ThreadItem }
  /**
   * The streaming text so far: agentMessage text, reasoning summary, or command output. Written by
   * older versions, and still when streamed text is replaced rather than extended.
   */
  item_checkpoint: { turnId: string; itemId: string; text: string }
  /** New streaming text of one item, appended at `offset` (see ItemTextDelta). */
  item_text_delta: ItemTextDelta
  /**
   * With `textFromDeltas`, an agentMessage's `text` is written as "" and is the first
   * `textFromDeltas` characters its item_text_delta lines carried (the text is not written twice).
   */
  item_completed: {
    turnId: string
    item: ThreadItem
    textFromDeltas?: number
    /**
     * The item was dropped, never completed: what a broken model stream had streamed when it was
     * retried (codex never completes it). Replay removes the item; versions before this field
     * show it closed, as they wrote it.
     */
    discarded?: true
  }
  /** A raw Responses API input or output item; `turnId` null for history written outside a turn. */
  response_item: { turnId: string | null; item: unknown }
  token_usage: { turnId: string; usage: ThreadTokenUsage }
  /**
   * The thread's context was compacted (thread/compact/start, or automatically): from here on the
   * model history is `replacementHistory` (kept user messages and the summary), not what came before.
   */
  compacted: { turnId: string; replacementHistory: { turnId: string | null; item: unknown }[] }
  /** `completedAt` in seconds. */
  turn_completed: {
    turnId: string
    status: Exclude<TurnStatus, 'inProgress'>
    error: TurnError | null
    completedAt: number | null
    durationMs: number | null
  }
}

export type RolloutType = keyof RolloutPayloads

/**
 * Streaming text appended to an item: `text` goes at `offset` (UTF-16 code units, as JS counts
 * string length) of the field that streams for the item's type: agentMessage `text`,
 * commandExecution `aggregatedOutput`, reasoning `summary[summaryIndex]` or `content[contentIndex]`.
 */
export interface ItemTextDelta {
  turnId: string
  itemId: string
  offset: number
  text: string
  summaryIndex?: number
  contentIndex?: number
}

export const ROLLOUT_TYPES: readonly RolloutType[] = [
  'session_meta',
  'thread_settings',
  'turn_started',
  'item_started',
  'item_checkpoint',
  'item_text_delta',
  'item_completed',
  'response_item',
  'token_usage',
  'compacted',
  'turn_completed',
]
const KNOWN_TYPES = new Set<string>(ROLLOUT_TYPES)

export type RolloutLine = {
  [T in RolloutType]: { timestamp: string; ordinal: number; type: T; payload: RolloutPayloads[T] }
}[RolloutType]

// ---------------------------------------------------------------------------------------------
// Encoding

/**
 * One line, newline included. The payload is stringified first so a payload that cannot be
 * serialized (a cycle, a BigInt) throws before the caller spends an ordinal on it.
 */
export function encodeLine<T extends RolloutType>(
  ordinal: number,
  type: T,
  payload: RolloutPayloads[T],
  at: number | Date = Date.now(),
): string {
  return encodeLineJson(ordinal, type, payloadJsonOf(type, payload), at)
}

/** A payload as JSON; throws for a payload that is not JSON (a cycle, a BigInt). */
export function payloadJsonOf(type: RolloutType, payload: unknown): string {
  const json = JSON.stringify(payload)
  if (json === undefined) throw new TypeError(`rollout payload for ${type} is not JSON`)
  return json
}

/** One line from a payload already turned into JSON, newline included. */
export function encodeLineJson(
  ordinal: number,
  type: RolloutType,
  payloadJson: string,
  at: number | Date,
): string {
  const timestamp = new Date(at).toISOString()
  return `{"timestamp":"${timestamp}","ordinal":${ordinal},"type":"${type}","payload":${payloadJson}}\n`
}

export interface LineProblem {
  /** 1-based line number in the text. */
  line: number
  kind: 'torn' | 'corrupt' | 'unknown_type' | 'out_of_order'
  message: string
}

export interface DecodedLines {
  lines: RolloutLine[]
  problems: LineProblem[]
}

function isLine(
  value: unknown,
): value is { timestamp: string; ordinal: number; type: string; payload: object } {
  if (typeof value !== 'object' || value === null) return false
  const v = value as Record<string, unknown>
  return (
    typeof v.timestamp === 'string' &&
    typeof v.ordinal === 'number' &&
    typeof v.type === 'string' &&
    typeof v.payload === 'object' &&
    v.payload !== null
  )
}

/**
 * Parses a rollout, one line at a time (`push`), so a reader can feed it as it reads the file. A
 * last line without its newline that does not parse is a torn write (the process died mid-append)
 * and is reported as `torn`; one that parses is kept. Anything else that does not parse is
 * `corrupt`, skipped, and the lines after it are still read. Lines of a type this version does not
 * know (a newer codex-desk) are reported as `unknown_type` and skipped.
 */
export class LineDecoder {
  readonly lines: RolloutLine[] = []
  readonly problems: LineProblem[] = []
  private lastOrdinal = -1

  /**
   * `withoutModelHistory`: `response_item` lines keep their turn but not their item, and `compacted`
   * lines an empty replacement history, for a reader that shows the thread and never runs it (the
   * model history is most of a rollout's weight, and replay places nothing else from those lines).
   */
  constructor(
    private readonly options: {
      withoutModelHistory?: boolean
      /** Sees each good line before it is kept: what it returns is kept instead (null: nothing). */
      keep?: (line: RolloutLine) => RolloutLine | null
      /**
       * Lines it returns true for are dropped unparsed and unchecked (no problem is reported for
       * them): for a reader that would drop them anyway, since parsing a big line costs the most.
       */
      skip?: (raw: string) => boolean
    } = {},
  ) {}

  /** `unterminated`: this is the file's last line and no newline follows it. */
  push(raw: string, lineNumber: number, unterminated: boolean): void {
    if (raw.trim() === '') return
    if (this.options.skip?.(raw)) return
    let value: unknown
    try {
      value = JSON.parse(raw)
    } catch (error) {
      this.problems.push({
        line: lineNumber,
        kind: unterminated ? 'torn' : 'corrupt',
        message: unterminated
          ? `the last line was cut short (${raw.length} bytes without a newline)`
          : `not JSON: ${(error as Error).message}`,
      })
      return
    }
    if (!isLine(value)) {
      this.problems.push({ line: lineNumber, kind: 'corrupt', message: 'not a rollout line' })
      return
    }
    if (!KNOWN_TYPES.has(value.type)) {
      this.problems.push({
        line: lineNumber,
        kind: 'unknown_type',
        message: `unknown line type \`${value.type}\``,
      })
      return
    }
    if (value.ordinal <= this.lastOrdinal) {
      // Kept: the content is fine, only a second writer (a lock failure) could have caused this.
      this.problems.push({
        line: lineNumber,
        kind: 'out_of_order',
        message: `ordinal ${value.ordinal} after ${this.lastOrdinal}`,
      })
    }
    this.lastOrdinal = Math.max(this.lastOrdinal, value.ordinal)
    if (this.options.withoutModelHistory) withoutModelHistory(value as RolloutLine)
    const kept = this.options.keep ? this.options.keep(value as RolloutLine) : (value as RolloutLine)
    if (kept) this.lines.push(kept)
  }
}

function withoutModelHistory(line: RolloutLine): void {
  if (line.type === 'response_item') line.payload = { turnId: line.payload.turnId, item: null }
  else if (line.type === 'compacted') line.payload = { ...line.payload, replacementHistory: [] }
}

/** The head of a `response_item` line as the writer lays it out (encodeLineJson). */
const MODEL_HISTORY_HEAD = /^\{"timestamp":"[^"\\]*","ordinal":\d+,"type":"response_item",/

/** Whether a raw line is a model-history line, from its head alone. */
export function isModelHistoryLine(raw: string): boolean {
  return MODEL_HISTORY_HEAD.test(raw.length > 200 ? raw.slice(0, 200) : raw)
}

/** Parses a whole rollout text (see LineDecoder). */
export function decodeLines(text: string): DecodedLines {
  const decoder = new LineDecoder()
  const parts = text.split('\n')
  const unterminated = !text.endsWith('\n')
  for (let i = 0; i < parts.length; i++) {
    decoder.push(parts[i] as string, i + 1, unterminated && i === parts.length - 1)
  }
  return { lines: decoder.lines, problems: decoder.problems }
}
