/**
 * Ranks index entries against a query for @-mentions: a fast case-aware subsequence prefilter over
 * the whole list, then fzf (the npm port of junegunn/fzf) scores the most promising candidates and
 * gives the matched character positions. Like codex's ranking, a match inside the file name beats
 * one spread over directories (+65536) and a file name equal to the query ranks above that again;
 * ties go to the shorter path order (score descending, then path ascending).
 *
 * It must never scan more than the list once per query and never hold the event loop for the full
 * fzf run over a huge list: fzf sees at most CANDIDATES entries.
 */
import { extendedMatch, Fzf, type FzfResultItem } from 'fzf'
import type { IndexEntry } from './fileIndex'

export const MATCH_LIMIT = 50
/** How many prefiltered entries fzf scores. */
const CANDIDATES = 2_000
const NAME_BONUS = 65_536

export interface FileMatch {
  entry: IndexEntry
  score: number
  indices: number[]
}

function isSubsequence(haystack: string, needle: string, from: number): boolean {
  let at = from
  for (let index = 0; index < needle.length; index++) {
    at = haystack.indexOf(needle[index] as string, at)
    if (at < 0) return false
    at++
  }
  return true
}

/** Ranks `entries` for `query` (empty query: no matches). */
export function rankEntries(entries: readonly IndexEntry[], query: string, limit = MATCH_LIMIT): FileMatch[] {
  const atoms = query.trim().split(/\s+/).filter(Boolean)
  if (atoms.length === 0) return []
  const caseSensitive = /\p{Lu}/u.test(query)
  const needles = caseSensitive ? atoms : atoms.map((atom) => atom.toLowerCase())
  const compact = needles.join('')
  // Prefilter: every atom a subsequence of the path; those also inside the file name come first.
  const inName: IndexEntry[] = []
  const elsewhere: IndexEntry[] = []
  for (const item of entries) {
    const hay = caseSensitive ? item.path : item.lower
    if (!needles.every((needle) => isSubsequence(hay, needle, 0))) continue
    if (isSubsequence(hay, compact, item.nameStart)) inName.push(item)
    else elsewhere.push(item)
  }
  const byLength = (a: IndexEntry, b: IndexEntry): number => a.path.length - b.path.length
  let candidates: IndexEntry[]
  if (inName.length >= CANDIDATES) candidates = inName.sort(byLength).slice(0, CANDIDATES)
  else candidates = inName.concat(elsewhere.sort(byLength).slice(0, CANDIDATES - inName.length))
  if (candidates.length === 0) return []

  const fzf = new Fzf(candidates, {
    selector: (item: IndexEntry) => item.path,
    casing: caseSensitive ? 'case-sensitive' : 'case-insensitive',
    normalize: false,
    ...(atoms.length > 1 ? { match: extendedMatch } : {}),
  })
  const lowerQuery = atoms.join(' ').toLowerCase()
  const scored = fzf.find(atoms.join(' ')).map((result: FzfResultItem<IndexEntry>) => {
    const indices = [...result.positions].sort((a, b) => a - b)
    const item = result.item
    let score = Math.max(0, Math.round(result.score))
    if (indices.length > 0 && (indices[0] as number) >= item.nameStart) score += NAME_BONUS
    if (item.path.slice(item.nameStart).toLowerCase() === lowerQuery) score += NAME_BONUS
    return { entry: item, score, indices }
  })
  scored.sort(
    (a, b) => b.score - a.score || (a.entry.path < b.entry.path ? -1 : a.entry.path > b.entry.path ? 1 : 0),
  )
  return scored.slice(0, limit)
}
