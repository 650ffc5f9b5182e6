/**
 * A window whose renderer process died (a crash, the OOM killer, a GPU reset) is reloaded, and the
 * page rejoins the core as after any reload (a new port, the open thread resumed). The reloads are
 * bounded: more than `maxReloads` crashes within `periodMs` stop the loop and the user is asked
 * (`onGiveUp`), so a page that crashes at start never spins. Electron is behind the small
 * `CrashingContents` interface; the policy is pure and unit-tested.
 */

export interface CrashPolicy {
  maxReloads: number
  periodMs: number
  /** Wait before the reload: `delayMs * n` for the n-th crash in the period. */
  delayMs: number
}

export const CRASH_POLICY: CrashPolicy = { maxReloads: 3, periodMs: 60_000, delayMs: 500 }

/** Electron's render-process-gone reasons after which the page does not come back by itself. */
export function needsReload(reason: string): boolean {
  return reason !== 'clean-exit'
}

/** Counts crashes within the policy's period; answers whether to reload, and after how long. */
export class CrashBudget {
  private crashes: number[] = []

  constructor(
    private readonly policy: CrashPolicy = CRASH_POLICY,
    private readonly now: () => number = Date.now,
  ) {}

  /** A crash happened: reload after `delayMs`, or give up (too many in the period). */
  crashed(): { reload: true; delayMs: number } | { reload: false } {
    const at = this.now()
    this.crashes = this.crashes.filter((t) => at - t < this.policy.periodMs)
    this.crashes.push(at)
    if (this.crashes.length > this.policy.maxReloads) return { reload: false }
    return { reload: true, delayMs: this.policy.delayMs * this.crashes.length }
  }

  /** The user asked for another try: the count starts again. */
  reset(): void {
    this.crashes = []
  }
}

/** The slice of a WebContents watched here. */
export interface CrashingContents {
  on(
    event: 'render-process-gone',
    listener: (event: unknown, details: { reason: string; exitCode: number }) => void,
  ): unknown
  reload(): void
  isDestroyed(): boolean
}

export interface RecoveryOptions {
  policy?: CrashPolicy
  now?: () => number
  log: {
    warn(fields: object, message: string): void
    error(fields: object, message: string): void
  }
  /** Too many crashes: ask the user; resolve true to try again (the budget starts over). */
  onGiveUp(details: { reason: string; exitCode: number }): Promise<boolean>
  setTimer?: (run: () => void, ms: number) => unknown
}

export function reloadOnCrash(contents: CrashingContents, options: RecoveryOptions): CrashBudget {
  const budget = new CrashBudget(options.policy, options.now)
  const setTimer = options.setTimer ?? ((run, ms) => setTimeout(run, ms))
  const reload = () => {
    if (!contents.isDestroyed()) contents.reload()
  }
  contents.on('render-process-gone', (_event, details) => {
    if (!needsReload(details.reason)) return
    const decision = budget.crashed()
    if (decision.reload) {
      options.log.warn({ ...details, delayMs: decision.delayMs }, 'the window crashed; reloading it')
      setTimer(reload, decision.delayMs)
      return
    }
    options.log.error(details, 'the window keeps crashing; stopped reloading it')
    void options.onGiveUp(details).then(
      (again) => {
        if (!again) return
        budget.reset()
        reload()
      },
      () => undefined,
    )
  })
  return budget
}
