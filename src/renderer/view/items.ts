/**
 * One DOM element per thread item (docs/renderer.md, Thread view). A streaming item keeps the sink
 * its stream grows in, so a delta costs one `appendData`, not a re-render: a Text node for command
 * output, a Markdown view (markdownView.ts) for answers and reasoning, which re-renders only its
 * last block.
 */
import type { ThreadItem } from '../state/model'
import { streamTextOf, userMessageText } from '../state/model'
import { append, h } from './dom'
import { markdownViewFor } from './markdownView'

/** Where an item's streaming text grows: a Text node, or anything that takes the new end the same way. */
export interface StreamSink {
  appendData(data: string): void
}

export interface RenderedItem {
  element: HTMLElement
  /** Takes the item's streaming text (see streamTextOf) as it grows, if it streams. */
  stream: StreamSink | null
  /** How much of the streaming text `stream` holds. */
  streamLength: number
}

export interface ItemContext {
  /** A thread's title for a link, or null when unknown. */
  titleOf(threadId: string): string | null
  /** Builds a link that opens a thread in this window. */
  threadLink(threadId: string, text: string, className?: string): HTMLAnchorElement
}

type Of<T extends ThreadItem['type']> = Extract<ThreadItem, { type: T }>

/** Outputs longer than this many lines are collapsed to a scrolling box, with controls. */
export const OUTPUT_COLLAPSE_LINES = 20
/** Command items whose output the user expanded (kept across the item's re-renders). */
const expandedOutputs = new Set<string>()

function countLines(text: string): number {
  let lines = 0
  for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) lines++
  return lines
}

/**
 * A command's output: a `pre.output` that streams through a Text node; once it is long, it is shown
 * collapsed (a box that keeps following the end while it streams) with "Show all" and "Jump to end".
 */
function commandOutput(item: Of<'commandExecution'>) {
  const text = item.aggregatedOutput ?? ''
  const node = document.createTextNode(text)
  const pre = h('pre', { class: 'output' })
  pre.appendChild(node)
  const toggle = h('button', { type: 'button', class: 'output-toggle', 'aria-expanded': 'false' })
  const jump = h('button', { type: 'button', class: 'output-jump' }, 'Jump to end')
  const tools = h('div', { class: 'output-tools', hidden: true }, toggle, jump)
  const box = h('div', { class: 'output-box' }, pre, tools)
  let newlines = countLines(text)
  const lineCount = (all: string) => newlines + (all && !all.endsWith('\n') ? 1 : 0)
  let lines = lineCount(text)
  const expanded = () => expandedOutputs.has(item.id)
  const show = () => {
    const long = lines > OUTPUT_COLLAPSE_LINES
    box.hidden = node.length === 0
    tools.hidden = !long
    box.toggleAttribute('data-collapsed', long && !expanded())
    toggle.textContent = expanded() ? 'Collapse' : `Show all ${lines} lines`
    toggle.setAttribute('aria-expanded', String(expanded()))
  }
  toggle.addEventListener('click', () => {
    if (expanded()) expandedOutputs.delete(item.id)
    else expandedOutputs.add(item.id)
    show()
  })
  jump.addEventListener('click', () => {
    pre.scrollTop = pre.scrollHeight
    box.scrollIntoView({ block: 'end' })
  })
  show()
  const sink: StreamSink = {
    appendData(data) {
      const collapsed = box.hasAttribute('data-collapsed')
      const following = collapsed && pre.scrollHeight - pre.scrollTop - pre.clientHeight < 24
      node.appendData(data)
      newlines += countLines(data)
      lines = lineCount(node.data)
      show()
      // While it streams, a collapsed box shows the newest lines unless the user scrolled up in it.
      if (following || (!collapsed && box.hasAttribute('data-collapsed'))) pre.scrollTop = pre.scrollHeight
    },
  }
  return { element: box, sink, length: text.length }
}

function json(value: unknown): string {
  if (value === undefined) return ''
  if (typeof value === 'string') return value
  try {
    return JSON.stringify(value, null, 2)
  } catch {
    return String(value)
  }
}

/** Diff lines as spans: `+` added, `-` removed, `@@` hunk headers. `mode` colors a whole add/delete. */
export function renderDiff(diff: string, mode: 'add' | 'delete' | 'update' = 'update'): HTMLPreElement {
  const pre = h('pre', { class: 'diff' })
  const lines = diff.endsWith('\n') ? diff.slice(0, -1).split('\n') : diff.split('\n')
  for (const line of lines) {
    let kind = 'ctx'
    let text = line
    if (mode === 'add') {
      kind = 'add'
      text = `+${line}`
    } else if (mode === 'delete') {
      kind = 'del'
      text = `-${line}`
    } else if (line.startsWith('@@')) kind = 'hunk'
    else if (line.startsWith('+++') || line.startsWith('---')) kind = 'file'
    else if (line.startsWith('+')) kind = 'add'
    else if (line.startsWith('-')) kind = 'del'
    pre.appendChild(h('span', { class: `line ${kind}` }, text + '\n'))
  }
  return pre
}

const KIND_LABEL = { add: 'added', delete: 'deleted', update: 'updated' } as const

export function renderFileChanges(changes: Of<'fileChange'>['changes']): HTMLElement[] {
  return changes.map((change) => {
    const move = change.kind.type === 'update' ? change.kind.move_path : null
    return h(
      'div',
      { class: 'file-change', 'data-kind': change.kind.type },
      h(
        'div',
        { class: 'file-head' },
        h('span', { class: 'kind' }, KIND_LABEL[change.kind.type]),
        h('span', { class: 'path' }, change.path),
        move ? h('span', { class: 'move-path' }, `→ ${move}`) : null,
      ),
      renderDiff(change.diff, change.kind.type),
    )
  })
}

function label(text: string) {
  return h('div', { class: 'item-label' }, text)
}

export function renderItem(item: ThreadItem, context: ItemContext): RenderedItem {
  const element = h('div', {
    class: `item item-${item.type}`,
    'data-item-id': item.id,
    'data-item-type': item.type,
    'data-status': 'status' in item && typeof item.status === 'string' ? item.status : null,
  })
  let stream: StreamSink | null = null
  let streamLength = 0
  switch (item.type) {
    case 'userMessage':
      element.appendChild(h('div', { class: 'item-text' }, userMessageText(item)))
      break
    case 'agentMessage':
    case 'reasoning': {
      if (item.type === 'reasoning') element.appendChild(label('Reasoning'))
      const text = streamTextOf(item) ?? ''
      const view = markdownViewFor(`${item.type}:${item.id}`, text)
      element.appendChild(view.element)
      stream = view
      streamLength = text.length
      break
    }
    case 'commandExecution': {
      const output = commandOutput(item)
      stream = output.sink
      streamLength = output.length
      element.append(
        h(
          'div',
          { class: 'command-head' },
          h('code', { class: 'command' }, item.command),
          item.exitCode !== null ? h('span', { class: 'exit-code' }, `exit ${item.exitCode}`) : null,
          item.status === 'declined' || item.status === 'failed'
            ? h('span', { class: 'item-state', 'data-state': item.status }, item.status)
            : null,
        ),
        h('div', { class: 'cwd' }, item.cwd),
        output.element,
      )
      break
    }
    case 'fileChange': {
      const notApplied = item.status === 'declined' || item.status === 'failed'
      if (!notApplied) {
        element.append(label('File changes'), ...renderFileChanges(item.changes))
        break
      }
      // Not applied: say so first and keep the diff out of sight, greyed, so it cannot pass for applied.
      const count = item.changes.length
      element.append(
        label(item.status === 'declined' ? 'File changes (declined)' : 'File changes (failed)'),
        h(
          'p',
          { class: 'not-applied', 'data-state': item.status },
          h('strong', null, item.status === 'declined' ? 'Declined: not applied.' : 'Failed: not applied.'),
          item.status === 'declined'
            ? ' These changes were not made to your files.'
            : ' The patch did not apply; check the files before relying on these changes.',
        ),
        h(
          'details',
          { class: 'not-applied-diff' },
          h('summary', null, `Show the proposed changes (${count} ${count === 1 ? 'file' : 'files'})`),
          ...renderFileChanges(item.changes),
        ),
      )
      break
    }
    case 'dynamicToolCall': {
      const result = (item.contentItems ?? [])
        .map((part) => {
          const p = part as { type?: string; text?: string }
          return p.type === 'inputText' ? (p.text ?? '') : `[${p.type ?? 'content'}]`
        })
        .join('\n')
      element.append(
        h(
          'div',
          { class: 'tool-head' },
          label('Tool'),
          h('code', { class: 'tool' }, item.namespace ? `${item.namespace}.${item.tool}` : item.tool),
          item.success === false ? h('span', { class: 'item-state' }, 'failed') : null,
        ),
        h('pre', { class: 'arguments' }, json(item.arguments)),
        h('pre', { class: 'result' }, result),
      )
      break
    }
    case 'mcpToolCall':
      element.append(
        h(
          'div',
          { class: 'tool-head' },
          label('MCP tool'),
          h('code', { class: 'tool' }, `${item.server}.${item.tool}`),
        ),
        h('pre', { class: 'arguments' }, json(item.arguments)),
        h('pre', { class: 'result' }, item.error ? item.error.message : json(item.result?.content ?? '')),
      )
      break
    case 'collabAgentToolCall': {
      const agents = h('ul', { class: 'agents' })
      for (const threadId of item.receiverThreadIds) {
        const state = item.agentsStates[threadId]
        const title = context.titleOf(threadId) ?? `Sub-agent ${threadId.slice(-8)}`
        agents.appendChild(
          h(
            'li',
            null,
            context.threadLink(threadId, title),
            state ? h('span', { class: 'agent-state' }, state.status) : null,
          ),
        )
      }
      append(
        element,
        h('div', { class: 'tool-head' }, label('Sub-agent'), h('code', { class: 'tool' }, item.tool)),
        item.prompt ? h('div', { class: 'item-text' }, item.prompt) : null,
        agents,
      )
      break
    }
    default:
      element.appendChild(label(item.type))
  }
  return { element, stream, streamLength }
}
