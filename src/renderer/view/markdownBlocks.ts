/**
 * Incremental Markdown for a streaming answer: splits the growing text into top-level blocks,
 * renders each finished block exactly once and re-renders only the growing tail. Pure (no DOM,
 * no globals): the caller passes how to lex and how to render a block, so tests can count both.
 *
 * It must never re-lex or re-render a finished block while the text only grows, and its output
 * (finished blocks then the tail) must stay what rendering the whole text at once would give.
 * When that cannot hold (the text was replaced, or a link reference definition arrived that an
 * earlier block may use) it starts over from the beginning.
 */
import { Lexer, type Token, type Tokens, type TokensList } from 'marked'

export type Links = TokensList['links']
/** Lexes `source` knowing the reference definitions `links` met earlier in the text. */
export type Lex = (source: string, links: Links) => TokensList
/** Renders one finished block (one top-level token) or the tail (the last tokens). */
export type RenderBlocks<T> = (tokens: Token[]) => T

export interface MarkdownUpdate<T> {
  /** True when everything was thrown away: the caller drops what it showed and starts again. */
  reset: boolean
  /** Blocks that finished with this update, in order; they never change again. */
  finished: T[]
  /** The rendered tail (the block still growing and what follows it), or null if there is none. */
  tail: T | null
}

export const defaultLex: Lex = (source, links) => {
  const lexer = new Lexer({ gfm: true })
  Object.assign(lexer.tokens.links, links)
  return lexer.lex(source)
}

function signature(link: Links[string]): string {
  return `${link.href ?? ''}\u0000${link.title ?? ''}`
}

/** `\r\n` and `\r` as the lexer sees them, so offsets into the text match the tokens' `raw`. */
export function normalizeNewlines(source: string): string {
  return source.includes('\r') ? source.replace(/\r\n?/g, '\n') : source
}

/** Index of the first tail token: the last one that is not blank space, or 0. */
function tailStart(tokens: readonly Token[]): number {
  for (let i = tokens.length - 1; i >= 0; i--) if (tokens[i]?.type !== 'space') return i
  return 0
}

export class MarkdownStream<T> {
  private source = ''
  /** Where the finished blocks end in `source`: lexing starts here. */
  private stableEnd = 0
  private readonly finishedBlocks: T[] = []
  private tailBlock: T | null = null
  /** Reference definitions in the finished blocks: the tail is lexed knowing them. */
  private stableLinks: Links = Object.create(null) as Links
  /** Every definition the last lex saw, to notice one that is new or still growing. */
  private links: Links = Object.create(null) as Links

  constructor(
    private readonly render: RenderBlocks<T>,
    private readonly lex: Lex = defaultLex,
  ) {}

  /** Everything finished so far, in order. */
  get finished(): readonly T[] {
    return this.finishedBlocks
  }

  get tail(): T | null {
    return this.tailBlock
  }

  /** How much of the text the finished blocks cover. */
  get stableLength(): number {
    return this.stableEnd
  }

  update(text: string): MarkdownUpdate<T> {
    const source = normalizeNewlines(text)
    if (source === this.source) return { reset: false, finished: [], tail: this.tailBlock }
    let reset = false
    if (!source.startsWith(this.source.slice(0, this.stableEnd))) {
      this.clear()
      reset = true
    }
    this.source = source
    let lexed = this.lex(source.slice(this.stableEnd), this.stableLinks)
    // A new (or still growing) reference definition may change how a finished block reads: start over.
    if (this.stableEnd > 0 && this.linksChanged(lexed.links)) {
      this.clear()
      this.source = source
      reset = true
      lexed = this.lex(source, this.stableLinks)
    }
    this.links = { ...lexed.links }
    let tokens: Token[] = lexed

    const start = tailStart(tokens)
    const finished: T[] = []
    if (start > 0) {
      const done = tokens.slice(0, start)
      const doneText = done.map((token) => token.raw).join('')
      // The tokens must cover the text exactly; if the lexer rewrote it, keep it all in the tail.
      if (source.startsWith(doneText, this.stableEnd)) {
        for (const token of done) {
          const tag = token.type === 'def' ? (token as Tokens.Def).tag : null
          const link = tag === null ? undefined : lexed.links[tag]
          if (tag !== null && link) this.stableLinks[tag] = link
          if (token.type === 'space' || token.type === 'def') continue
          finished.push(this.render([token]))
        }
        this.finishedBlocks.push(...finished)
        this.stableEnd += doneText.length
        tokens = tokens.slice(start)
      }
    }
    const rest = tokens.filter((token) => token.type !== 'space' && token.type !== 'def')
    this.tailBlock = rest.length > 0 ? this.render(rest) : null
    return { reset, finished, tail: this.tailBlock }
  }

  private linksChanged(links: Links): boolean {
    for (const [name, link] of Object.entries(links)) {
      const known = this.links[name]
      if (!known || signature(known) !== signature(link)) return true
    }
    return false
  }

  private clear(): void {
    this.source = ''
    this.stableEnd = 0
    this.finishedBlocks.length = 0
    this.tailBlock = null
    this.links = Object.create(null) as Links
    this.stableLinks = Object.create(null) as Links
  }
}
