/**
 * Summary statistics for latency samples and the shape of one reported figure. Percentiles use the
 * nearest-rank method, so with 20 samples p99 is the slowest run: no interpolation flatters a tail.
 */

export interface Summary {
  n: number
  p50: number
  p99: number
  min: number
  max: number
  mean: number
}

export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number
}

/** The 95th percentile of unsorted samples, rounded like the other statistics. */
export function p95(samples: ArrayLike<number>): number {
  return round(percentile(Float64Array.from(samples).sort(), 95))
}

export function summarize(samples: ArrayLike<number>): Summary {
  const sorted = Float64Array.from(samples).sort()
  let sum = 0
  for (const v of sorted) sum += v
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    min: sorted[0] ?? NaN,
    max: sorted[sorted.length - 1] ?? NaN,
    mean: sum / Math.max(1, sorted.length),
  }
}

/** Which statistic a target constrains. */
export type TargetStat = 'p50' | 'p99' | 'value'

/** One benchmark figure: a JSON line in the output and an entry of results/latest.json. */
export interface Figure {
  bench: string
  unit: 'ms' | 'MiB' | 'KiB' | 'deltas/s'
  p50?: number
  p99?: number
  min?: number
  max?: number
  value?: number
  n: number
  /** null when there is no target (context figures). */
  target: number | null
  targetStat: TargetStat | null
  /** Throughput figures: the target is a floor (the statistic must be at least the target). */
  atLeast?: boolean
  /** codex-cli 0.169.0's numbers: measured in the same run (`codexFrom: 'measured'`), or the issue's. */
  codex: Partial<Record<'p50' | 'p99' | 'value', number>> | null
  /**
   * A figure measured beside codex: codex-desk's target statistic divided by codex's (for
   * throughput, codex-desk's rate over codex's), and the ratio it must reach (`ratioAtLeast` for
   * throughput). The side-by-side rows of the performance issue carry these.
   */
  ratio?: number | null
  ratioTarget?: number
  ratioAtLeast?: boolean
  /** Whether the target statistic is within the target; null without a target. */
  pass: boolean | null
  error?: string
  [extra: string]: unknown
}

/** codex-desk / codex, two decimals; null when codex was not measured (or measured 0). */
export function ratioOf(ours: number | undefined, theirs: number | undefined): number | null {
  if (ours === undefined || theirs === undefined || !(theirs > 0)) return null
  return Number((ours / theirs).toFixed(2))
}

/** Rounds to a precision that suits the magnitude (µs for sub-millisecond round trips). */
export function round(value: number): number {
  if (!Number.isFinite(value)) return value
  const digits = Math.abs(value) < 10 ? 4 : 2
  return Number(value.toFixed(digits))
}

/** Builds a latency figure from samples, checking the target against `targetStat`. */
export function latencyFigure(
  bench: string,
  samples: ArrayLike<number>,
  target: number | null,
  targetStat: 'p50' | 'p99' | null,
  codex: Figure['codex'],
  extra: Record<string, unknown> = {},
): Figure {
  const s = summarize(samples)
  const figure: Figure = {
    bench,
    unit: 'ms',
    p50: round(s.p50),
    p99: round(s.p99),
    min: round(s.min),
    max: round(s.max),
    n: s.n,
    target,
    targetStat,
    codex,
    pass: target === null || targetStat === null ? null : s[targetStat] <= target,
    ...extra,
  }
  return figure
}

/** A figure whose value is the median of a few samples (a cold start, a rebuild), with no target. */
export function valueFigure(bench: string, samples: number[], extra: Record<string, unknown> = {}): Figure {
  const s = summarize(samples)
  return {
    bench,
    unit: 'ms',
    value: round(s.p50),
    min: round(s.min),
    max: round(s.max),
    n: s.n,
    target: null,
    targetStat: null,
    codex: null,
    pass: null,
    ...extra,
  }
}

/**
 * `figure` (codex-desk's, from `ours`) with codex's numbers from `theirs` beside it: its median in
 * the figure's statistic (p50 and p99 for a latency figure, value otherwise), its spread, and the
 * ratio of the medians against `ratioTarget`. Without codex the figure says it was not installed.
 */
export function besideCodex(
  figure: Figure,
  ours: number[],
  theirs: number[] | null,
  ratioTarget = 1,
): Figure {
  if (!theirs)
    return { ...figure, codex: null, codexFrom: 'not installed', ratio: null, ratioTarget, pass: null }
  const t = summarize(theirs)
  const ratio = ratioOf(summarize(ours).p50, t.p50)
  return {
    ...figure,
    codex: figure.p50 === undefined ? { value: round(t.p50) } : { p50: round(t.p50), p99: round(t.p99) },
    codexMin: round(t.min),
    codexMax: round(t.max),
    codexFrom: 'measured',
    ratio,
    ratioTarget,
    pass: ratio === null ? null : ratio <= ratioTarget,
  }
}
