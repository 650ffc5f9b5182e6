/**
 * The streaming rollout reader (threads/rolloutRead.ts) against the whole-text decoder it replaces:
 * the same lines and problems for every shape of file, including lines and characters that straddle
 * its 1 MiB pieces.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { decodeLines, encodeLine } from '../../src/worker/threads/rolloutLines'
import { readRolloutFile } from '../../src/worker/threads/rolloutRead'
import { makeTempDir } from '../support/appServerProcess'

const removals: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const remove of removals.splice(0)) await remove()
})

async function both(text: string) {
  const dir = await makeTempDir('codex-desk-rollout-read-')
  removals.push(dir.remove)
  const path = join(dir.path, 'rollout.jsonl')
  await writeFile(path, text)
  return { streamed: await readRolloutFile(path), whole: decodeLines(text) }
}

const name = (ordinal: number, text: string) => encodeLine(ordinal, 'thread_settings', { name: text }, 0)

describe('reading a rollout piece by piece', () => {
  it('gives the same lines and problems as decoding the whole text', async () => {
    const text = [name(0, 'a'), '\n', 'not json\n', name(1, 'b'), '{"timestamp":"x"', ''].join('')
    const { streamed, whole } = await both(text)
    expect(streamed).toEqual(whole)
    expect(streamed.lines).toHaveLength(2)
    expect(streamed.problems.map((p) => [p.line, p.kind])).toEqual([
      [3, 'corrupt'],
      [5, 'torn'],
    ])
  })

  it('keeps a line longer than a piece whole, and characters split between pieces intact', async () => {
    // 3 MiB of a 3-byte character, so piece boundaries fall inside characters, and a line that
    // spans four pieces between two short ones.
    const long = '€'.repeat(1024 * 1024)
    const text = name(0, 'first') + name(1, long) + name(2, 'ü'.repeat(700_000)) + name(3, 'last')
    const { streamed, whole } = await both(text)
    expect(streamed).toEqual(whole)
    expect(streamed.problems).toEqual([])
    expect(streamed.lines.map((l) => (l.payload as { name: string }).name.length)).toEqual([
      5,
      1024 * 1024,
      700_000,
      4,
    ])
  })

  it('keeps a last line without its newline when it parses, as the whole-text decoder does', async () => {
    const text = name(0, 'a') + name(1, 'b').trimEnd()
    const { streamed, whole } = await both(text)
    expect(streamed).toEqual(whole)
    expect(streamed.lines).toHaveLength(2)
  })

  it('reads an empty file as no lines', async () => {
    const { streamed, whole } = await both('')
    expect(streamed).toEqual(whole)
    expect(streamed.lines).toEqual([])
  })
})
