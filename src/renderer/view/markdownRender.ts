/**
 * Markdown tokens to safe DOM for answers and reasoning (GFM: headings, lists, task lists, tables,
 * fenced code). `marked` renders, highlight.js (core build, the languages below) colours code,
 * DOMPurify sanitizes, and the result is returned as nodes, never assigned as HTML by us.
 *
 * It must never let markup from the text through: raw HTML in an answer is shown as text, images
 * become plain links (nothing remote is loaded), links open outside the page, and everything goes
 * through DOMPurify with a short allow-list even so.
 */
import DOMPurify from 'dompurify'
import hljs from 'highlight.js/lib/core'
import bash from 'highlight.js/lib/languages/bash'
import c from 'highlight.js/lib/languages/c'
import cpp from 'highlight.js/lib/languages/cpp'
import css from 'highlight.js/lib/languages/css'
import diff from 'highlight.js/lib/languages/diff'
import go from 'highlight.js/lib/languages/go'
import ini from 'highlight.js/lib/languages/ini'
import javascript from 'highlight.js/lib/languages/javascript'
import json from 'highlight.js/lib/languages/json'
import markdown from 'highlight.js/lib/languages/markdown'
import python from 'highlight.js/lib/languages/python'
import rust from 'highlight.js/lib/languages/rust'
import shell from 'highlight.js/lib/languages/shell'
import typescript from 'highlight.js/lib/languages/typescript'
import xml from 'highlight.js/lib/languages/xml'
import yaml from 'highlight.js/lib/languages/yaml'
import { Marked, type Token } from 'marked'
import { h } from './dom'

const LANGUAGES = {
  bash,
  c,
  cpp,
  css,
  diff,
  go,
  ini,
  javascript,
  json,
  markdown,
  python,
  rust,
  shell,
  typescript,
  xml,
  yaml,
}
for (const [name, language] of Object.entries(LANGUAGES)) hljs.registerLanguage(name, language)

function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;')
}

/** The registered language a fence's info string names (`ts`, `tsx`, `sh`, `py`, ...), or null. */
export function languageOf(info: string | undefined): string | null {
  const name = (info ?? '').trim().split(/\s+/)[0]?.toLowerCase() ?? ''
  if (!name || !/^[\w+#-]+$/.test(name)) return null
  return hljs.getLanguage(name) ? name : null
}

const md = new Marked({
  gfm: true,
  renderer: {
    // Raw HTML in an answer is text the model wrote, shown as written.
    html: ({ text }) => escapeHtml(text),
    image: ({ href, text }) => `<a href="${escapeHtml(href)}">${escapeHtml(text || href)}</a>`,
    code: ({ text, lang }) => {
      const language = languageOf(lang)
      const body = language
        ? hljs.highlight(text, { language, ignoreIllegals: true }).value
        : escapeHtml(text)
      const label = language ?? (lang ?? '').trim().split(/\s+/)[0] ?? ''
      return `<pre><code class="hljs${language ? ` language-${language}` : ''}" data-lang="${escapeHtml(label)}">${body}\n</code></pre>\n`
    },
  },
})

const purify = DOMPurify(window)
const WEB_LINK = /^(?:https?:|mailto:)/i
const ALLOWED_TAGS = [
  'a', 'p', 'br', 'hr', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'ul', 'ol', 'li', 'blockquote', 'pre',
  'code', 'span', 'em', 'strong', 'del', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'input',
] // prettier-ignore
const ALLOWED_ATTR = ['href', 'title', 'class', 'type', 'checked', 'disabled', 'align', 'start', 'data-lang']
purify.addHook('afterSanitizeAttributes', (node) => {
  if (node instanceof HTMLAnchorElement && node.hasAttribute('href')) {
    // Web and mail links only: a relative link would open this page's own server.
    if (!WEB_LINK.test(node.getAttribute('href') ?? '')) return node.removeAttribute('href')
    node.target = '_blank'
    node.rel = 'noopener noreferrer'
  } else if (node instanceof HTMLInputElement) {
    // Task-list boxes only, and they show state; nothing to type into or submit.
    if (node.type !== 'checkbox') node.remove()
    else node.disabled = true
  }
})

// Set once: parsing the configuration on every call costs more than sanitizing a small block.
purify.setConfig({ ALLOWED_TAGS, ALLOWED_ATTR, RETURN_DOM_FRAGMENT: true })

/** Tokens to sanitized nodes, before the code blocks get their toolbar. */
function sanitized(tokens: Token[]): DocumentFragment {
  // RETURN_DOM_FRAGMENT (set above) makes the result a fragment.
  return purify.sanitize(md.parser(tokens)) as unknown as DocumentFragment
}

/** Puts `text` on the clipboard: the Clipboard API, or a selection copy where it is not allowed. */
export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text)
    return true
  } catch {
    const area = h('textarea', { class: 'copy-buffer', readonly: true, 'aria-hidden': 'true' })
    area.value = text
    const focused = document.activeElement
    document.body.appendChild(area)
    area.select()
    let ok: boolean
    try {
      ok = document.execCommand('copy')
    } catch {
      ok = false
    }
    area.remove()
    if (focused instanceof HTMLElement) focused.focus()
    return ok
  }
}

function copyButton(code: HTMLElement): HTMLButtonElement {
  const button = h('button', { type: 'button', class: 'code-copy', title: 'Copy the code' }, 'Copy')
  let timer: ReturnType<typeof setTimeout> | undefined
  button.addEventListener('click', () => {
    void copyText(code.textContent ?? '').then((ok) => {
      button.textContent = ok ? 'Copied' : 'Copy failed'
      clearTimeout(timer)
      timer = setTimeout(() => (button.textContent = 'Copy'), 1500)
    })
  })
  return button
}

/** Code blocks get a header (language, Copy); tables a scrolling frame; task items a class. */
function enhance(root: DocumentFragment): void {
  for (const code of root.querySelectorAll<HTMLElement>('pre > code')) {
    const pre = code.parentElement
    if (!pre) continue
    const lang = code.dataset.lang ?? ''
    code.removeAttribute('data-lang')
    const block = h('div', { class: 'code-block' })
    pre.replaceWith(block)
    block.append(
      h('div', { class: 'code-head' }, h('span', { class: 'code-lang' }, lang), copyButton(code)),
      pre,
    )
  }
  for (const box of root.querySelectorAll('li > input[type="checkbox"]')) {
    box.parentElement?.classList.add('task-item')
  }
  for (const table of root.querySelectorAll('table')) {
    const frame = h('div', { class: 'md-table' })
    table.replaceWith(frame)
    frame.appendChild(table)
  }
}

/** One block (or the tail) as an element holding its sanitized, enhanced nodes. */
export function renderBlock(tokens: Token[]): HTMLElement {
  const fragment = sanitized(tokens)
  enhance(fragment)
  const element = h('div', { class: 'md-block' })
  element.appendChild(fragment)
  return element
}
