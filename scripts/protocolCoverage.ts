/**
 * The protocol coverage table, and the codex method list it is measured against.
 *
 *   npm run docs:coverage                 rewrites docs/protocol.md between the coverage markers
 *   tsx scripts/protocolCoverage.ts --methods SCHEMA_DIR STABLE_DIR
 *                                         rewrites src/worker/protocol/codexMethods.ts from the output of
 *                                         `codex app-server generate-json-schema [--experimental]`
 *
 * A method counts as implemented when it is in the registry AND something outside protocol/ uses it:
 * a handler in src/worker/server for a client request (the `HandlerMap` type also demands one), a
 * sender anywhere in src/worker for a server request or notification. So a notification that is only
 * declared reads "declared, never sent" instead of "yes". test/unit/docs.test.ts fails when the
 * docs/protocol.md table and this output disagree. It must never invent a method: every row comes from codex's schema or
 * from the registry.
 */
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  codexClientNotifications,
  codexClientRequests,
  codexServerNotifications,
  codexServerRequests,
  type CodexMethod,
} from '../src/worker/protocol/codexMethods'
import {
  clientNotifications,
  clientRequests,
  serverNotifications,
  serverRequests,
} from '../src/worker/protocol/registry'

export const START = '<!-- coverage:start -->'
export const END = '<!-- coverage:end -->'

const ROOT = join(import.meta.dirname, '..')

/**
 * One line of context for a method, shown in the table's note column (user-facing facts only: what
 * codex-desk does differently, or why a method is not there). Keep them short.
 */
export const NOTES: Readonly<Record<string, string>> = {
  initialize:
    '`userAgent` names the codex protocol version spoken (0.169.0) where clients read the server version, then `codex-desk/<version>`',
  'account/login/start':
    '`chatgpt` and `chatgptDeviceCode` are refused: the desktop app signs in and hands the core its tokens',
  'item/reasoning/textDelta': 'raw reasoning text, which only some local models stream',
  deprecationNotice:
    'reading a whole thread stays supported beside the history pages, so nothing is deprecated',
  'model/list': "codex's catalog, then the configured model and a non-OpenAI provider's `/models`",
  'modelProvider/capabilities/read': 'web search as `web_search` configures it; image generation false',
  'mcpServerStatus/list':
    "the shared runtime's servers; `runtimeStatus` is its real state (codex: null without a thread)",
  'mcpServer/oauth/login': 'refused with a message: use `bearer_token_env_var` or `http_headers`',
  'review/start': 'inline; also `detached` (a forked thread), which 0.169 refuses',
  'thread/shellCommand': 'runs outside the sandbox, as codex does',
  'command/exec': 'a terminal (`tty`) through util-linux `script` on Linux; refused elsewhere',
  'desk/configWarnings/read': "the current config problems and machine notices (the desktop UI's banner)",
  'collaborationMode/list': 'Default only: codex-desk has no plan mode',
  'experimentalFeature/list': 'the one flag codex-desk acts on, `multi_agent`',
  'account/rateLimits/read': 'an error: codex-desk does not fetch usage limits',
  'hooks/list': 'always empty; configured hooks are named in warnings',
  'plugin/list': 'empty: codex-desk has no plugins',
  'plugin/installed': 'empty: codex-desk has no plugins',
  'app/list': 'empty: codex-desk has no apps',
  'externalAgentConfig/detect': 'empty: codex-desk imports nothing from other agents',
  'thread/backgroundTerminals/list': 'empty: every command finishes within its turn',
  'thread/goal/set': 'kept per thread; codex-desk does not work on a goal by itself',
  'thread/settings/update': 'service tier and personality are kept and reported, not sent to the model',
  'thread/turns/list': 'a thread with no message yet pages as empty',
}

type Kind = 'client request' | 'server request' | 'server notification' | 'client notification'

const sections: { title: string; kind: Kind; upstream: readonly CodexMethod[]; ours: object }[] = [
  { title: 'Client requests', kind: 'client request', upstream: codexClientRequests, ours: clientRequests },
  { title: 'Server requests', kind: 'server request', upstream: codexServerRequests, ours: serverRequests },
  {
    title: 'Server notifications',
    kind: 'server notification',
    upstream: codexServerNotifications,
    ours: serverNotifications,
  },
  {
    title: 'Client notifications',
    kind: 'client notification',
    upstream: codexClientNotifications,
    ours: clientNotifications,
  },
]

function sourceText(dir: string, skip?: string): string {
  const parts: string[] = []
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const path = join(d, name)
      if (statSync(path).isDirectory()) {
        if (path !== skip) walk(path)
      } else if (name.endsWith('.ts')) parts.push(readFileSync(path, 'utf8'))
    }
  }
  walk(dir)
  return parts.join('\n')
}

let sources: { handlers: string; senders: string } | undefined
function code(): { handlers: string; senders: string } {
  sources ??= {
    handlers: sourceText(join(ROOT, 'src/worker/server')),
    senders: sourceText(join(ROOT, 'src/worker'), join(ROOT, 'src/worker/protocol')),
  }
  return sources
}

/** `'thread/start'` as a string literal, or `initialize:` as a bare object key. */
const usedIn = (text: string, method: string): boolean =>
  text.includes(`'${method}'`) ||
  text.includes(`"${method}"`) ||
  (/^\w+$/.test(method) && new RegExp(`\\b${method}\\s*:`).test(text))

export type Status = 'yes' | 'not yet' | 'declared, never sent' | `declared, not sent yet (${string})`

/** Whether codex-desk implements `method` of `kind`. */
export function status(kind: Kind, ours: object, method: string): Status {
  if (!Object.hasOwn(ours, method)) return 'not yet'
  if (kind === 'client notification') return 'yes'
  if (kind === 'server request') {
    const pending = (ours as Record<string, { notYetSent?: string } | null>)[method]?.notYetSent
    if (pending) return `declared, not sent yet (${pending})`
  }
  const text = kind === 'client request' ? code().handlers : code().senders
  return usedIn(text, method) ? 'yes' : 'declared, never sent'
}

function note(m: CodexMethod): string {
  return [m.experimental ? 'experimental' : '', m.legacy ? 'deprecated' : '', NOTES[m.method] ?? '']
    .filter(Boolean)
    .join('; ')
}

const cell = (text: string) => text.replace(/\|/g, '\\|')

export function coverageMarkdown(): string {
  const out: string[] = [
    START,
    '<!-- generated by `npm run docs:coverage` from the protocol registry; do not edit -->',
    '',
  ]
  const summary = sections.map(({ title, kind, upstream, ours }) => {
    const done = upstream.filter((m) => status(kind, ours, m.method) === 'yes').length
    return `| ${title} | ${done} | ${upstream.length} |`
  })
  out.push('| kind | implemented | codex 0.169.0 methods |', '|---|---|---|', ...summary, '')
  for (const { title, kind, upstream, ours } of sections) {
    out.push(`<details><summary>${title}</summary>`, '', '| method | codex-desk | note |', '|---|---|---|')
    for (const m of upstream)
      out.push(`| \`${m.method}\` | ${status(kind, ours, m.method)} | ${cell(note(m))} |`)
    const extra = Object.keys(ours).filter((k) => !upstream.some((m) => m.method === k))
    for (const method of extra) {
      const extraNote = ['not in codex 0.169.0', NOTES[method] ?? ''].filter(Boolean).join('; ')
      out.push(`| \`${method}\` | ${status(kind, ours, method)} | ${cell(extraNote)} |`)
    }
    out.push('', '</details>', '')
  }
  out.push(END)
  return out.join('\n')
}

export function readmeWithCoverage(readme: string): string {
  const start = readme.indexOf(START)
  const end = readme.indexOf(END)
  if (start === -1 || end === -1) throw new Error('docs/protocol.md has no coverage markers')
  return readme.slice(0, start) + coverageMarkdown() + readme.slice(end + END.length)
}

// --- codexMethods.ts from codex's generated schema ---

interface SchemaVariant {
  description?: string
  properties?: { method?: { enum?: string[]; const?: string } }
}

/** Method names of one union file (`ClientRequest.json`, ...) in declaration order, with descriptions. */
export function schemaMethods(dir: string, union: string): { method: string; description: string }[] {
  const schema = JSON.parse(readFileSync(join(dir, `${union}.json`), 'utf8')) as { oneOf?: SchemaVariant[] }
  return (schema.oneOf ?? []).flatMap((variant) => {
    const m = variant.properties?.method
    const names = m?.enum ?? (m?.const !== undefined ? [m.const] : [])
    return names.map((method) => ({ method, description: variant.description ?? '' }))
  })
}

const UNIONS = [
  ['codexClientRequests', 'ClientRequest', 'requests the client sends to the server'],
  ['codexServerRequests', 'ServerRequest', 'requests the server sends to the client'],
  ['codexServerNotifications', 'ServerNotification', 'notifications the server sends'],
  ['codexClientNotifications', 'ClientNotification', 'notifications the client sends'],
] as const

/** The text of codexMethods.ts for a full (`--experimental`) and a stable schema output. */
export function codexMethodsSource(schemaDir: string, stableDir: string): string {
  const lines = [
    '/**',
    " * Every method of the Codex app-server protocol as codex 0.169.0's own generated schema declares it:",
    ' * `codex app-server generate-json-schema --experimental` (all methods) and the same without',
    ' * `--experimental` (the stable ones), the `method` names of `oneOf` in ClientRequest.json,',
    ' * ServerRequest.json, ServerNotification.json and ClientNotification.json, in declaration order.',
    ' * Generated by `tsx scripts/protocolCoverage.ts --methods SCHEMA_DIR STABLE_DIR`; do not edit.',
    ' * Used for the docs/protocol.md coverage table and for tests; never for dispatch (the registry does that).',
    ' * Runtime-free: no imports.',
    ' *',
    ' * `experimental`: absent from the stable output. codex keeps every notification in its stable',
    ' * output, so no notification is marked here.',
    ' * `legacy`: the schema describes the method as deprecated or as serving the legacy API.',
    ' */',
    'export interface CodexMethod {',
    '  readonly method: string',
    '  readonly experimental?: true',
    '  readonly legacy?: true',
    '}',
  ]
  for (const [name, union, what] of UNIONS) {
    const stable = new Set(schemaMethods(stableDir, union).map((m) => m.method))
    const entries = schemaMethods(schemaDir, union).map(({ method, description }) => {
      const flags = [
        stable.has(method) ? '' : 'experimental: true',
        /deprecated|legacy api/i.test(description) ? 'legacy: true' : '',
      ].filter(Boolean)
      return `  { method: '${method}'${flags.length ? `, ${flags.join(', ')}` : ''} },`
    })
    lines.push('', `/** \`${union}\`: ${what}. */`, `export const ${name}: readonly CodexMethod[] = [`)
    lines.push(...entries, ']')
  }
  return lines.join('\n') + '\n'
}

if (process.argv[1]?.endsWith('protocolCoverage.ts')) {
  const at = process.argv.indexOf('--methods')
  if (at !== -1) {
    const [schemaDir, stableDir] = process.argv.slice(at + 1)
    if (!schemaDir || !stableDir) throw new Error('usage: --methods SCHEMA_DIR STABLE_DIR')
    const path = join(ROOT, 'src/worker/protocol/codexMethods.ts')
    writeFileSync(path, codexMethodsSource(schemaDir, stableDir))
    console.log(`${path} regenerated from ${schemaDir}`)
  } else {
    const path = join(ROOT, 'docs/protocol.md')
    writeFileSync(path, readmeWithCoverage(readFileSync(path, 'utf8')))
    console.log('docs/protocol.md coverage table updated')
  }
}
