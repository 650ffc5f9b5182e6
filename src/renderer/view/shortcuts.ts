/**
 * Keyboard shortcuts: which key does what (a pure table and `shortcutFor`, pinned by the unit
 * tests), one keydown listener on the document that runs the matching action, and the help overlay
 * (`?`) that lists them. Typing is never taken over: single-key shortcuts (`/`, `?`) act only
 * outside text fields, and a key another part of the page already handled (defaultPrevented) is
 * left alone. It never talks to the core; the actions are given by app.ts.
 */
import { h } from './dom'
import '../styles/shell.css'

export type ShortcutAction =
  'newThread' | 'interrupt' | 'nextThread' | 'previousThread' | 'focusComposer' | 'search' | 'help'

/** The parts of a KeyboardEvent a shortcut depends on, plus whether focus is in a text field. */
export interface KeyInput {
  key: string
  ctrlKey: boolean
  metaKey: boolean
  altKey: boolean
  shiftKey: boolean
  /** Focus is in an input, a textarea or an editable element. */
  inText: boolean
}

export type Platform = 'mac' | 'other'

export function platformOf(navigatorPlatform: string): Platform {
  return /mac|iphone|ipad/i.test(navigatorPlatform) ? 'mac' : 'other'
}

/** What the help lists, in order: the keys as the user presses them on `platform`. */
/** `plain`: the keys are words, not keys to press. */
export function shortcutTable(platform: Platform): { keys: string; what: string; plain?: boolean }[] {
  const mod = platform === 'mac' ? '⌘' : 'Ctrl+'
  const alt = platform === 'mac' ? '⌥' : 'Alt+'
  const shift = platform === 'mac' ? '⇧' : 'Shift+'
  return [
    { keys: `${mod}${shift}O`, what: 'New thread' },
    { keys: `${mod}K`, what: 'Search threads' },
    { keys: `${alt}↓ / ${alt}↑`, what: 'Next / previous thread' },
    { keys: '/', what: 'Focus the message box' },
    { keys: 'Esc', what: 'Interrupt the running turn' },
    { keys: 'shown on the buttons', what: 'Answer an approval', plain: true },
    { keys: `? or ${mod}/`, what: 'Show these shortcuts' },
  ]
}

/** The action `input` asks for on `platform`, or null. */
export function shortcutFor(input: KeyInput, platform: Platform): ShortcutAction | null {
  const mod = platform === 'mac' ? input.metaKey && !input.ctrlKey : input.ctrlKey && !input.metaKey
  const key = input.key.length === 1 ? input.key.toLowerCase() : input.key
  if (mod && input.shiftKey && !input.altKey && key === 'o') return 'newThread'
  if (mod && !input.shiftKey && !input.altKey && key === 'k') return 'search'
  if (mod && !input.altKey && key === '/') return 'help'
  const plainAlt = input.altKey && !input.ctrlKey && !input.metaKey && !input.shiftKey
  if (plainAlt && key === 'ArrowDown') return 'nextThread'
  if (plainAlt && key === 'ArrowUp') return 'previousThread'
  const bare = !input.ctrlKey && !input.metaKey && !input.altKey
  if (bare && !input.shiftKey && key === 'Escape') return 'interrupt'
  if (bare && !input.inText && key === '/') return 'focusComposer'
  if (bare && !input.inText && key === '?') return 'help'
  return null
}

/** An action returns false when it did nothing (no running turn to interrupt): the key goes on. */
export type ShortcutHandlers = Record<ShortcutAction, () => boolean | void>

function inText(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false
  if (target.isContentEditable) return true
  if (target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return true
  if (target instanceof HTMLInputElement) {
    return !['button', 'checkbox', 'radio', 'submit', 'reset', 'range', 'color'].includes(target.type)
  }
  return false
}

/** The help overlay: a modal dialog listing the shortcuts. */
export class ShortcutHelp {
  readonly root: HTMLDialogElement

  constructor(platform: Platform) {
    const rows = shortcutTable(platform).map((row) =>
      h('tr', null, h('td', null, row.plain ? row.keys : h('kbd', null, row.keys)), h('td', null, row.what)),
    )
    const close = h('button', { type: 'button', class: 'primary' }, 'Close')
    close.addEventListener('click', () => this.root.close())
    this.root = h(
      'dialog',
      { class: 'shortcut-help', 'aria-label': 'Keyboard shortcuts' },
      h('h2', null, 'Keyboard shortcuts'),
      h('table', null, h('tbody', null, ...rows)),
      h('div', { class: 'shortcut-help-actions' }, close),
    )
    // A click on the backdrop (outside the box) closes it.
    this.root.addEventListener('click', (event) => {
      if (event.target === this.root) this.root.close()
    })
  }

  get isOpen(): boolean {
    return this.root.open
  }

  toggle(): void {
    if (this.root.open) this.root.close()
    else this.root.showModal()
  }
}

/** Listens for the shortcuts on `doc`; returns the help overlay (already in `host`). */
export function installShortcuts(
  doc: Document,
  host: HTMLElement,
  handlers: Omit<ShortcutHandlers, 'help'>,
  platform: Platform = platformOf(navigator.platform),
): ShortcutHelp {
  const help = new ShortcutHelp(platform)
  host.append(help.root)
  const all: ShortcutHandlers = { ...handlers, help: () => help.toggle() }
  doc.addEventListener('keydown', (event) => {
    if (event.defaultPrevented || event.isComposing) return
    // While the help is open only its own keys count (Esc closes it, ? toggles it).
    const action = shortcutFor(
      {
        key: event.key,
        ctrlKey: event.ctrlKey,
        metaKey: event.metaKey,
        altKey: event.altKey,
        shiftKey: event.shiftKey,
        inText: inText(event.target),
      },
      platform,
    )
    if (!action || (help.isOpen && action !== 'help')) return
    // Another open dialog (settings) keeps its keys.
    if (action !== 'help' && doc.querySelector('dialog[open]')) return
    if (all[action]() === false) return
    event.preventDefault()
  })
  return help
}
