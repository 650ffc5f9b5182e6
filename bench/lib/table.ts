/**
 * How figures are printed: the table `npm run bench` shows, and `runStandalone`, which lets a bench
 * file run alone (`npx tsx bench/<file>.ts`) and print the same table and its JSON lines.
 */
import { pathToFileURL } from 'node:url'
import type { Figure } from './stats'

function fmt(value: number | undefined): string {
  return value === undefined ? '-' : String(value)
}

/** The bench table: one row per figure, then whatever else each figure carries. */
export function table(figures: Figure[]): string {
  const header = [
    'figure',
    'unit',
    'p50',
    'p99',
    'min',
    'value',
    'n',
    'target',
    'codex',
    'vs codex',
    'result',
  ]
  const rows = figures.map((f) => [
    f.bench,
    f.unit,
    fmt(f.p50),
    fmt(f.p99),
    fmt(f.min),
    fmt(f.value),
    String(f.n),
    f.target === null
      ? '-'
      : `${f.targetStat === 'value' ? '' : f.targetStat + ' '}${f.atLeast ? '>=' : '<='} ${f.target}`,
    f.codex
      ? Object.entries(f.codex)
          .map(([k, v]) => (k === 'value' ? String(v) : `${k} ${v}`))
          .join(', ')
      : '-',
    f.ratio === undefined ? '' : `${f.ratio ?? '-'}x (${f.ratioAtLeast ? '>=' : '<='} ${f.ratioTarget ?? 1})`,
    f.error ? 'ERROR' : f.pass === null ? 'info' : f.pass ? 'ok' : 'MISS',
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)))
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < 2 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ')
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)]
  // Everything that is not a column (sub-timings, the paused client's fate, errors) goes below.
  const columns = new Set([
    'bench',
    'unit',
    'p50',
    'p99',
    'min',
    'max',
    'value',
    'n',
    'target',
    'targetStat',
    'atLeast',
    'ratio',
    'ratioTarget',
    'ratioAtLeast',
  ])
  for (const f of figures) {
    const details = Object.entries(f).filter(([k]) => !columns.has(k) && k !== 'codex' && k !== 'pass')
    if (details.length === 0) continue
    out.push(`  ${f.bench}: ${details.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ')}`)
  }
  return out.join('\n')
}

/** Runs `run` when `moduleUrl` is the script node was started with; prints the table, then JSON lines. */
export function runStandalone(moduleUrl: string, run: () => Promise<Figure[]>): void {
  if (!process.argv[1] || moduleUrl !== pathToFileURL(process.argv[1]).href) return
  run().then(
    (figures) => {
      console.log(table(figures))
      console.log()
      for (const f of figures) console.log(JSON.stringify(f))
    },
    (error: unknown) => {
      console.error(error)
      process.exitCode = 1
    },
  )
}
