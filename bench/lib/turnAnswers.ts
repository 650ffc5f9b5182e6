/**
 * The answers of a many-turn bench thread, keyed by turn, and the check that each one was saved.
 *
 * The scripted model answers a request by the question it carries (the last `question N [key]` in
 * its input), not by the order requests arrive: a retried request (a reconnect after a dropped or
 * idle stream, a connection refused) gets the same answer again instead of taking the next turn's,
 * so a retry can never shift the answers and make the count wrong. The ledger records, per turn,
 * the requests the server received (and whether the client dropped them mid-stream), what the
 * client saw (notifications by method, `error` messages, the turn's final status), and then checks
 * the thread as the server reads it back and as a fresh server reads it from disk: every turn must
 * have exactly its own answer, once.
 *
 * Optional faults for the model side (TURN_MEMORY_FAULTS, see `parseFaults`) exercise the retry
 * paths on purpose. It must never change the answer a turn is owed, and never keep request bodies.
 */
import {
  delayMs,
  disconnectAfter,
  stall,
  text,
  usage,
  type RecordedRequest,
  type Step,
} from '../../test/support/modelServer'

/** A unique answer for turn `n` of about `bytes` bytes (words, so it looks like prose to nobody). */
export function answer(n: number, bytes: number): string {
  const head = `Answer ${n}: `
  const words: string[] = [head]
  let size = head.length
  for (let i = 0; size < bytes; i++) {
    const word = `w${n.toString(36)}x${i.toString(36)} `
    words.push(word)
    size += word.length
  }
  return words.join('').slice(0, bytes)
}

export const question = (turn: number, key: string) => `question ${turn} [${key}]`
const QUESTION = /^question (\d+) \[(.+)\]$/

/**
 * Faults the model server injects, on the first request of every `every`-th turn (a retry of that
 * turn is answered normally): `reset` drops the connection after a few events (mid-answer),
 * `stall` holds the stream silent after the complete answer, before `response.completed` (give
 * the servers a short idle timeout: TURN_MEMORY_IDLE_MS), `slow` waits `ms` before every event. Written `reset:7,stall:11,slow:13:50`.
 */
export interface Faults {
  reset?: number
  stall?: number
  slow?: { every: number; ms: number }
}

export function parseFaults(spec: string | undefined): Faults {
  const faults: Faults = {}
  for (const part of (spec ?? '').split(',').filter(Boolean)) {
    const [kind, every, ms] = part.split(':')
    const n = Number(every)
    if (!(n > 0)) throw new Error(`TURN_MEMORY_FAULTS: bad "${part}"`)
    if (kind === 'reset') faults.reset = n
    else if (kind === 'stall') faults.stall = n
    else if (kind === 'slow') faults.slow = { every: n, ms: Number(ms) || 50 }
    else throw new Error(`TURN_MEMORY_FAULTS: unknown fault "${kind}"`)
  }
  return faults
}

/** What the server received for one turn. */
interface Served {
  requests: number
  /** Its requests (to read whether the client closed one before the scripted answer ended). */
  records: RecordedRequest[]
  faults: string[]
}

/** What the client saw for one turn. */
export interface Seen {
  deltas: number
  methods: Record<string, number>
  errors: string[]
  status?: string
  error?: string | null
}

export interface Lost {
  turn: number
  problem: string
  clientSaw: Seen | undefined
  serverGot: { requests: number; droppedByClient: number; faults: string[] } | undefined
}

export class TurnAnswers {
  private readonly served = new Map<string, Served>()
  private readonly seen = new Map<string, Seen>()
  /** Requests without a bench question (none expected: counted, answered 'ok'). */
  unmatched = 0

  constructor(
    private readonly bytes: number,
    private readonly chunks: number,
    private readonly faults: Faults = {},
  ) {}

  /** The model server's script: the turn's own answer, whichever request of the turn this is. */
  readonly script = (record: RecordedRequest): Step[] => {
    const found = lastQuestion(record.body)
    // The body is the whole history (about 1 MB at turn 200): never kept.
    record.body = undefined
    if (!found) {
      this.unmatched++
      return [text('ok'), usage({ input: 10, output: 5 })]
    }
    const id = `${found.key}#${found.turn}`
    let served = this.served.get(id)
    if (!served) this.served.set(id, (served = { requests: 0, records: [], faults: [] }))
    served.requests++
    const first = served.requests === 1
    const { reset, stall: stallEvery, slow } = this.faults
    let fault: Step | undefined
    if (first && reset && found.turn % reset === 0) fault = disconnectAfter(6)
    else if (first && stallEvery && found.turn % stallEvery === 0) fault = stall()
    else if (first && slow && found.turn % slow.every === 0) fault = delayMs(slow.ms)
    if (fault) served.faults.push(fault.kind)
    // Kept to read `disconnectedByClient` at the end (the record's body is already gone).
    served.records.push(record)
    const full = answer(found.turn, this.bytes)
    // A retry that carries the answer the broken attempt completed (as codex does) is told nothing
    // more: a model that already answered has nothing to add.
    if (found.answered === full) return [usage({ input: 10, output: 5 })]
    const body = text(full, { chunks: this.chunks })
    // A reset drops the connection after 6 events: mid-answer. A stall holds the stream silent
    // after the complete answer, before `response.completed`, until the client's idle timeout.
    if (fault?.kind === 'stall') return [body, fault, usage({ input: 10, output: 5 })]
    return [...(fault ? [fault] : []), body, usage({ input: 10, output: 5 })]
  }

  /** The client's record for one turn (create on first use). */
  saw(key: string, turn: number): Seen {
    const id = `${key}#${turn}`
    let seen = this.seen.get(id)
    if (!seen) this.seen.set(id, (seen = { deltas: 0, methods: {}, errors: [] }))
    return seen
  }

  private detail(key: string, turn: number, problem: string): Lost {
    const served = this.served.get(`${key}#${turn}`)
    return {
      turn,
      problem,
      clientSaw: this.seen.get(`${key}#${turn}`),
      serverGot: served && {
        requests: served.requests,
        droppedByClient: served.records.filter((r) => r.disconnectedByClient).length,
        faults: served.faults,
      },
    }
  }

  /** Retries the server saw for `key`'s turns: [turns with more than one request, extra requests]. */
  retries(key: string): { turns: number; requests: number } {
    let turns = 0
    let requests = 0
    for (const [id, served] of this.served)
      if (id.startsWith(`${key}#`) && served.requests > 1) {
        turns++
        requests += served.requests - 1
      }
    return { turns, requests }
  }

  /**
   * Checks a `thread/read` of the thread (`source`: the live server, or a fresh one reading the
   * rollout from disk): turn n must be completed and hold its own answer exactly once, and no other
   * text. A turn whose stream broke keeps the partial message, closed, next to the complete one
   * (codex does the same): a partial is a prefix of the answer and is not counted as a loss.
   */
  check(key: string, turns: number, source: string, readTurns: ReadTurn[]): Lost[] {
    const lost: Lost[] = []
    if (readTurns.length !== turns)
      lost.push(this.detail(key, 0, `${source}: ${readTurns.length} turns, expected ${turns}`))
    for (let n = 1; n <= turns; n++) {
      const expected = answer(n, this.bytes)
      const turn = readTurns[n - 1]
      const messages = (turn?.items ?? []).filter((i) => i.type === 'agentMessage').map((i) => i.text ?? '')
      const whole = messages.filter((m) => m === expected).length
      const foreign = messages.filter((m) => m !== expected && !expected.startsWith(m))
      let problem: string | null = null
      if (!turn) problem = 'no such turn'
      else if (turn.status !== 'completed') problem = `turn ${turn.status}`
      else if (whole !== 1) problem = `${whole} complete answers in ${messages.length} messages`
      else if (foreign.length > 0) problem = `a foreign message "${foreign[0]?.slice(0, 40)}"`
      if (problem) lost.push(this.detail(key, n, `${source}: ${problem}`))
    }
    return lost
  }
}

export interface ReadTurn {
  id: string
  status: string
  items: { type: string; text?: string }[]
}

/**
 * The last bench question in a Responses request's input (user `input_text` parts), if any, and
 * the text of an assistant message after it (a retry carrying what the broken attempt completed).
 */
function lastQuestion(body: unknown): { turn: number; key: string; answered?: string } | null {
  const input = (body as { input?: unknown } | undefined)?.input
  if (!Array.isArray(input)) return null
  let answered: string | undefined
  for (let i = input.length - 1; i >= 0; i--) {
    const item = input[i] as { role?: string; content?: unknown }
    if (!Array.isArray(item.content)) continue
    const texts = (item.content as { text?: unknown }[]).map((part) => part.text)
    if (item.role === 'assistant') answered = texts.join('')
    if (item.role !== 'user') continue
    for (const text of texts) {
      const match = typeof text === 'string' ? QUESTION.exec(text) : null
      if (match) return { turn: Number(match[1]), key: match[2] as string, answered }
    }
  }
  return null
}
