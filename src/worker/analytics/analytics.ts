/**
 * Usage analytics, off by default. When on (`--analytics-default-enabled` or `[analytics] enabled =
 * true`, and never when a config layer says `enabled = false`) and an `[analytics] endpoint` is set,
 * usage events are batched and POSTed there as JSON.
 *
 * What an event may carry is fixed by the types below: names, counts, durations, status values and
 * error codes. Never content (prompts, model output, commands), never paths, never ids that name a
 * user or a thread. When analytics are off, `track` returns at once: no buffer, no timer, no socket.
 */
import { platform } from 'node:os'
import type { Logger } from '../util/log'

export type AnalyticsEvent =
  | { name: 'turn_started' }
  | {
      name: 'turn_completed'
      status: 'completed' | 'interrupted' | 'failed'
      durationMs: number
      inputTokens?: number
      outputTokens?: number
    }
  | { name: 'tool_call'; tool: string; outcome: 'success' | 'failure' | 'declined' }
  | { name: 'error'; code: number; method: string | null }

export interface AnalyticsState {
  enabled: boolean
  endpoint: string | undefined
}

export interface AnalyticsOptions {
  /** Read on every event, so a config reload takes effect at once. */
  state: () => AnalyticsState
  appVersion: string
  log: Logger
  batchSize?: number
  flushIntervalMs?: number
  timeoutMs?: number
}

interface Queued {
  event: AnalyticsEvent
  at: number
}

export class Analytics {
  private queue: Queued[] = []
  private timer: NodeJS.Timeout | undefined
  private inflight = new Set<Promise<void>>()
  private readonly batchSize: number
  private readonly flushIntervalMs: number
  private readonly timeoutMs: number
  private disposed = false

  constructor(private readonly options: AnalyticsOptions) {
    this.batchSize = options.batchSize ?? 50
    this.flushIntervalMs = options.flushIntervalMs ?? 5000
    this.timeoutMs = options.timeoutMs ?? 5000
  }

  track(event: AnalyticsEvent): void {
    if (this.disposed) return
    const state = this.options.state()
    if (!state.enabled || !state.endpoint) {
      // Turned off since the last event: forget what was waiting.
      this.queue = []
      return
    }
    this.queue.push({ event, at: Date.now() })
    if (this.queue.length >= this.batchSize) void this.flush()
    else if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), this.flushIntervalMs)
      this.timer.unref()
    }
  }

  /** Sends what is queued; a failed batch is logged and dropped (analytics never retry or pile up). */
  flush(): Promise<void> {
    clearTimeout(this.timer)
    this.timer = undefined
    const state = this.options.state()
    const batch = this.queue
    this.queue = []
    if (batch.length === 0 || !state.enabled || !state.endpoint) return Promise.resolve()
    const body = JSON.stringify({
      client: { app: 'codex-desk', version: this.options.appVersion, platform: platform() },
      events: batch.map((q) => ({ ...q.event, timestamp: new Date(q.at).toISOString() })),
    })
    const send = fetch(state.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      signal: AbortSignal.timeout(this.timeoutMs),
    }).then(
      (res) => {
        if (!res.ok)
          this.options.log.debug({ status: res.status, events: batch.length }, 'analytics batch refused')
        void res.body?.cancel()
      },
      (error: unknown) =>
        this.options.log.debug({ err: error, events: batch.length }, 'analytics batch not sent'),
    )
    this.inflight.add(send)
    void send.finally(() => this.inflight.delete(send))
    return send
  }

  /** Flushes what is queued and waits for batches in flight (bounded by the request timeout). */
  async dispose(): Promise<void> {
    if (this.disposed) return
    await this.flush()
    this.disposed = true
    await Promise.all(this.inflight)
  }
}
