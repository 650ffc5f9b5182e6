/**
 * One DOM element per thread item (docs/renderer.md, Thread view). A streaming item keeps the Text
 * node its stream grows in, so a delta costs one `appendData`, not a re-render.
 */
import type { ThreadItem } from '../state/model'
import { streamTextOf, userMessageText } from '../state/model'
import { append, h } from './dom'

export interface RenderedItem {
  element: HTMLElement
  /** The Text node holding the item's streaming text (see streamTextOf), if it streams. */
  stream: Text | null
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

function streamed(className: string, item: ThreadItem, tag: 'div' | 'pre' = 'div') {
  const text = streamTextOf(item) ?? ''
  const node = document.createTextNode(text)
  const element = h(tag, { class: className })
  element.appendChild(node)
  return { element, node, length: text.length }
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
  let stream: Text | null = null
  let streamLength = 0
  switch (item.type) {
    case 'userMessage':
      element.appendChild(h('div', { class: 'item-text' }, userMessageText(item)))
      break
    case 'agentMessage':
    case 'reasoning': {
      if (item.type === 'reasoning') element.appendChild(label('Reasoning'))
      const text = streamed('item-text', item)
      element.appendChild(text.element)
      stream = text.node
      streamLength = text.length
      break
    }
    case 'commandExecution': {
      const output = streamed('output', item, 'pre')
      stream = output.node
      streamLength = output.length
      element.append(
        h(
          'div',
          { class: 'command-head' },
          h('code', { class: 'command' }, item.command),
          item.exitCode !== null ? h('span', { class: 'exit-code' }, `exit ${item.exitCode}`) : null,
          item.status === 'declined' || item.status === 'failed'
            ? h('span', { class: 'item-state' }, item.status)
            : null,
        ),
        h('div', { class: 'cwd' }, item.cwd),
        output.element,
      )
      break
    }
    case 'fileChange':
      element.append(
        label(item.status === 'declined' ? 'File changes (declined)' : 'File changes'),
        ...renderFileChanges(item.changes),
      )
      break
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
