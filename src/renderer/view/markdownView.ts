/**
 * A streaming answer shown as Markdown: an element whose finished blocks stay in the DOM as they
 * are and whose growing tail is rebuilt on each `set` (the thread view calls it at most once per
 * animation frame). Views are kept per item for a while, so the item's final render after
 * streaming reuses what is already on screen instead of parsing the whole answer again.
 *
 * It must never parse a finished block twice while the text only grows, nor hold more than
 * CACHE_LIMIT views.
 */
import { h } from './dom'
import { MarkdownStream } from './markdownBlocks'
import { renderBlock } from './markdownRender'

export class MarkdownView {
  /** `.item-text.markdown`; `data-length` is how much of the text is rendered. */
  readonly element: HTMLElement
  private readonly stream = new MarkdownStream<HTMLElement>(renderBlock)
  private tail: HTMLElement | null = null
  private text = ''

  constructor(className = 'item-text') {
    this.element = h('div', { class: `${className} markdown`, 'data-length': 0 })
  }

  get source(): string {
    return this.text
  }

  set(text: string): void {
    if (text === this.text) return
    this.text = text
    const update = this.stream.update(text)
    if (update.reset) this.element.textContent = ''
    this.tail?.remove()
    for (const block of update.finished) this.element.appendChild(block)
    this.tail = update.tail
    if (this.tail) this.element.appendChild(this.tail)
    this.element.dataset.length = String(text.length)
  }

  /** The thread view's streaming hook: the text grew by `data`. */
  appendData(data: string): void {
    this.set(this.text + data)
  }
}

const CACHE_LIMIT = 64
const views = new Map<string, MarkdownView>()

/**
 * The view for an item showing `text`: the one it streamed into when that text grew into this one,
 * else a new one. The element moves into whatever item element the caller builds.
 */
export function markdownViewFor(key: string, text: string, className?: string): MarkdownView {
  let view = views.get(key)
  views.delete(key)
  if (!view || !text.startsWith(view.source)) view = new MarkdownView(className)
  views.set(key, view)
  if (views.size > CACHE_LIMIT) {
    const oldest = views.keys().next().value
    if (oldest !== undefined) views.delete(oldest)
  }
  view.set(text)
  return view
}
