/**
 * The outline of one rollout, for history pages (threads/historyPages.ts): each turn's ordinal and
 * the byte range holding its lines, each item's ordinal. A scan reads the file in chunks, looks only
 * at each line's head (parsing a whole line only when the head is not in the usual layout), and the
 * next scan starts where the last one stopped, since rollouts only grow (a shorter file starts over).
 * One turn is read back by its byte range and replayed on its own.
 *
 * It must never write a rollout, and never hold more than ordinals and offsets in memory.
 */
import { open } from 'node:fs/promises'
import type { Turn } from '../protocol/items'
import { decodeLines, replay, type RolloutLine } from './rollout'

const CHUNK_BYTES = 1 << 20
const PREFIX_BYTES = 4096

export interface OutlineTurn {
  id: string
  ordinal: number
  /** Byte range holding every line about the turn. */
  start: number
  end: number
}

export interface OutlineItem {
  turnId: string
  itemId: string
  ordinal: number
}

const LINE_HEAD =
  /^\{"timestamp":"[^"]*","ordinal":(\d+),"type":"([a-z_]+)","payload":(\{"turnId":"([^"\\]*)")?/
const ITEM_ID = /^(?:"type":"[^"\\]*",)?"id":"([^"\\]*)"/

/** What the outline needs from one line. */
interface LineFacts {
  ordinal: number
  type: string
  turnId: string | null
  itemId: string | null
}

function factsOf(line: Buffer): LineFacts | null {
  const prefix = line.subarray(0, PREFIX_BYTES).toString('utf8')
  const head = LINE_HEAD.exec(prefix)
  if (head) {
    const type = head[2] as string
    const turnId = head[4] ?? null
    if (type !== 'item_started' && type !== 'item_completed')
      return { ordinal: Number(head[1]), type, turnId, itemId: null }
    const at = prefix.indexOf(',"item":{', head[0].length)
    const id = at >= 0 ? ITEM_ID.exec(prefix.slice(at + 9)) : null
    if (turnId !== null && id) return { ordinal: Number(head[1]), type, turnId, itemId: id[1] as string }
  }
  // Not in the usual layout (or the id sits past the prefix): parse the whole line.
  try {
    const value = JSON.parse(line.toString('utf8')) as {
      ordinal?: unknown
      type?: unknown
      payload?: { turnId?: unknown; item?: { id?: unknown } }
    }
    if (typeof value.ordinal !== 'number' || typeof value.type !== 'string') return null
    const turnId = value.payload?.turnId
    const itemId = value.payload?.item?.id
    return {
      ordinal: value.ordinal,
      type: value.type,
      turnId: typeof turnId === 'string' ? turnId : null,
      itemId: typeof itemId === 'string' ? itemId : null,
    }
  } catch {
    return null
  }
}

export class RolloutOutline {
  readonly turns: OutlineTurn[] = []
  readonly items: OutlineItem[] = []
  private readonly turnById = new Map<string, OutlineTurn>()
  private readonly itemKeys = new Map<string, OutlineItem>()
  /** Bytes scanned, always at a line end. */
  private scanned = 0
  lastOrdinal = -1
  private refreshing: Promise<void> = Promise.resolve()

  constructor(readonly path: string) {}

  turn(id: string): OutlineTurn | undefined {
    return this.turnById.get(id)
  }

  item(turnId: string, itemId: string): OutlineItem | undefined {
    return this.itemKeys.get(`${turnId}\n${itemId}`)
  }

  /** Scans what was appended since the last call. */
  refresh(): Promise<void> {
    const run = this.refreshing.then(() => this.scan())
    this.refreshing = run.catch(() => undefined)
    return run
  }

  private reset(): void {
    this.turns.length = 0
    this.items.length = 0
    this.turnById.clear()
    this.itemKeys.clear()
    this.scanned = 0
    this.lastOrdinal = -1
  }

  private async scan(): Promise<void> {
    const file = await open(this.path, 'r')
    try {
      const size = (await file.stat()).size
      if (size < this.scanned) this.reset()
      const buffer = Buffer.alloc(Math.min(CHUNK_BYTES, Math.max(1, size - this.scanned)))
      let position = this.scanned
      let pieces: Buffer[] = []
      let lineStart = position
      while (position < size) {
        const { bytesRead } = await file.read(buffer, 0, Math.min(buffer.length, size - position), position)
        if (bytesRead === 0) break
        let from = 0
        for (;;) {
          const nl = buffer.indexOf(0x0a, from)
          if (nl < 0 || nl >= bytesRead) {
            pieces.push(Buffer.from(buffer.subarray(from, bytesRead)))
            break
          }
          const tail = buffer.subarray(from, nl)
          const line = pieces.length ? Buffer.concat([...pieces, tail]) : tail
          this.addLine(line, lineStart, position + nl + 1)
          pieces = []
          from = nl + 1
          lineStart = position + from
          this.scanned = lineStart
        }
        position += bytesRead
      }
    } finally {
      await file.close()
    }
  }

  private addLine(line: Buffer, start: number, end: number): void {
    if (line.length === 0) return
    const facts = factsOf(line)
    if (!facts) return
    this.lastOrdinal = Math.max(this.lastOrdinal, facts.ordinal)
    if (facts.turnId === null || facts.type === 'response_item') return
    let turn = this.turnById.get(facts.turnId)
    if (!turn) {
      // Replay keeps an item whose turn_started is missing, under a turn of its own: so do we.
      turn = { id: facts.turnId, ordinal: facts.ordinal, start, end }
      this.turns.push(turn)
      this.turnById.set(turn.id, turn)
    }
    turn.end = Math.max(turn.end, end)
    if (facts.itemId !== null) {
      const key = `${facts.turnId}\n${facts.itemId}`
      if (!this.itemKeys.has(key)) {
        const item = { turnId: facts.turnId, itemId: facts.itemId, ordinal: facts.ordinal }
        this.items.push(item)
        this.itemKeys.set(key, item)
      }
    }
  }

  /** The turn as replay rebuilds it from its own lines only. */
  async readTurn(turn: OutlineTurn, threadId: string): Promise<Turn | null> {
    const text = await readTurnText(this.path, turn)
    const lines = decodeLines(text).lines.filter(
      (line): line is RolloutLine =>
        line.type !== 'response_item' &&
        'turnId' in line.payload &&
        (line.payload as { turnId: unknown }).turnId === turn.id,
    )
    return replay(lines, { threadId, openTurn: 'interrupted' }).turns.find((t) => t.id === turn.id) ?? null
  }
}

/** The bytes of one outlined turn (`start` to `end`) as text; shorter if the file shrank. */
export async function readTurnText(path: string, turn: Pick<OutlineTurn, 'start' | 'end'>): Promise<string> {
  const file = await open(path, 'r')
  try {
    const buffer = Buffer.alloc(turn.end - turn.start)
    const { bytesRead } = await file.read(buffer, 0, buffer.length, turn.start)
    return buffer.subarray(0, bytesRead).toString('utf8')
  } finally {
    await file.close()
  }
}
