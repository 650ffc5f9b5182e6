/**
 * The streaming Markdown splitter (src/renderer/view/markdownBlocks.ts): whatever way an answer
 * arrives, what it shows is what rendering the whole text at once shows, and a block that finished
 * is neither lexed nor rendered again.
 */
import { marked, type Token, type TokensList } from 'marked'
import { describe, expect, it } from 'vitest'
import { defaultLex, MarkdownStream } from '../../src/renderer/view/markdownBlocks'

const ANSWER = [
  '# Plan',
  '',
  'First a paragraph with **bold**, `code` and a [link](https://example.com).',
  'It goes on for a second line.',
  '',
  '## Steps',
  '',
  '- one',
  '- two',
  '  - nested',
  '',
  '1. ordered',
  '2. list',
  '',
  '- [ ] open task',
  '- [x] done task',
  '',
  '| Name | Size |',
  '| :--- | ---: |',
  '| a.ts | 10 |',
  '| b.ts | 20 |',
  '',
  '```ts',
  'export function add(a: number, b: number): number {',
  '  return a + b',
  '}',
  '```',
  '',
  '> a quote',
  '> over two lines',
  '',
  'Setext heading',
  '--------------',
  '',
  '    indented code',
  '',
  '    more of it',
  '',
  '---',
  '',
  'The end.',
  '',
].join('\n')

function full(source: string): string {
  return marked.parse(source, { gfm: true, async: false })
}

/** A stream rendering HTML strings, counting what it lexes and renders. */
function htmlStream() {
  const lexed: string[] = []
  const rendered: Token[][] = []
  const stream = new MarkdownStream<string>(
    (tokens) => {
      rendered.push(tokens)
      return marked.parser(tokens)
    },
    (source, links): TokensList => {
      lexed.push(source)
      return defaultLex(source, links)
    },
  )
  const html = () => stream.finished.join('') + (stream.tail ?? '')
  return { stream, lexed, rendered, html }
}

/** Splits `text` into chunks whose sizes cycle through `sizes`. */
function chunks(text: string, sizes: readonly number[]): string[] {
  const out: string[] = []
  for (let at = 0, i = 0; at < text.length; i++) {
    const size = sizes[i % sizes.length] ?? 1
    out.push(text.slice(at, at + size))
    at += size
  }
  return out
}

describe('MarkdownStream', () => {
  it.each([
    ['one character at a time', [1]],
    ['uneven chunks', [3, 1, 7, 2, 11, 5]],
    ['large chunks', [40, 90]],
  ])('shows what a full render shows at every step, streamed %s', (_name, sizes) => {
    const { stream, html } = htmlStream()
    let text = ''
    for (const chunk of chunks(ANSWER, sizes)) {
      text += chunk
      stream.update(text)
      expect(html()).toBe(full(text))
    }
    expect(stream.finished.length).toBeGreaterThan(10)
  })

  it('never lexes or renders a finished block again', () => {
    const { stream, lexed, rendered } = htmlStream()
    const kept: string[] = []
    let headingDone = -1
    let text = ''
    for (const chunk of chunks(ANSWER, [1])) {
      text += chunk
      const lexCalls = lexed.length
      const renderCalls = rendered.length
      const stableBefore = stream.stableLength
      const update = stream.update(text)
      expect(update.reset).toBe(false)
      // One render per block that just finished, plus the tail: nothing older is rendered again.
      expect(rendered.length - renderCalls).toBe(update.finished.length + (update.tail === null ? 0 : 1))
      // Lexing starts where the finished blocks end, never before.
      for (const source of lexed.slice(lexCalls)) expect(source).toBe(text.slice(stableBefore))
      // Finished blocks keep the very output they were given, and only grow at the end.
      expect(stream.finished.slice(0, kept.length)).toEqual(kept)
      kept.push(...update.finished)
      expect(stream.finished).toEqual(kept)
      if (headingDone < 0 && kept.length > 0) headingDone = lexed.length
    }
    // Once the heading is finished, no lex input holds it again.
    expect(headingDone).toBeGreaterThan(0)
    for (const source of lexed.slice(headingDone)) expect(source).not.toContain('# Plan')
  })

  it('lexes about as much text as arrives, not the whole answer at every delta', () => {
    const { stream, lexed } = htmlStream()
    let text = ''
    for (const chunk of chunks(ANSWER, [1])) {
      text += chunk
      stream.update(text)
    }
    const total = lexed.reduce((sum, source) => sum + source.length, 0)
    const wholeEachTime = (ANSWER.length * (ANSWER.length + 1)) / 2
    expect(total).toBeLessThan(wholeEachTime / 5)
  })

  it('starts over when the text is replaced rather than extended', () => {
    const { stream, html } = htmlStream()
    stream.update('# One\n\nfirst paragraph\n\nsecond')
    expect(stream.finished.length).toBe(2)
    const update = stream.update('# Two\n\nother text')
    expect(update.reset).toBe(true)
    expect(html()).toBe(full('# Two\n\nother text'))
  })

  it('re-renders earlier blocks when a link definition they use arrives later', () => {
    const { stream, html } = htmlStream()
    const text = 'See [the docs][docs] first.\n\nMore text.\n\n[docs]: https://example.com/docs\n\nEnd'
    let seen = ''
    let resets = 0
    for (const chunk of chunks(text, [4])) {
      seen += chunk
      if (stream.update(seen).reset) resets++
    }
    expect(resets).toBeGreaterThan(0)
    expect(html()).toBe(full(text))
    expect(html()).toContain('href="https://example.com/docs"')
  })

  it('treats CRLF line ends like LF', () => {
    const { stream, html } = htmlStream()
    const crlf = ANSWER.replace(/\n/g, '\r\n')
    let text = ''
    for (const chunk of chunks(crlf, [5, 2])) {
      text += chunk
      stream.update(text)
    }
    expect(html()).toBe(full(ANSWER))
  })

  it('keeps a fenced block open in the tail until its closing fence', () => {
    const { stream } = htmlStream()
    stream.update('intro\n\n```ts\nconst a = 1\n\nconst b = 2\n')
    expect(stream.finished).toEqual(['<p>intro</p>\n'])
    expect(stream.tail).toContain('const b = 2')
    stream.update('intro\n\n```ts\nconst a = 1\n\nconst b = 2\n```\n\nafter')
    expect(stream.finished).toHaveLength(2)
    expect(stream.tail).toBe('<p>after</p>\n')
  })
})
