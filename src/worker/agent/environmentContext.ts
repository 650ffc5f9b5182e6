/**
 * The `<environment_context>` user message codex 0.169 puts in a thread's input: working folder,
 * shell, current date, time zone, and a `<filesystem>` block saying what the sandbox lets commands
 * read and write. The XML is codex's, element for element, so a model trained on codex reads it the
 * same way (paths go in as they are: codex does not escape them). After the first one, only what changed is repeated (codex's diff: the folder and shell
 * when the folder moved; the date, time zone and filesystem every time).
 *
 * It must never read or write the workspace: it only describes the thread's settings.
 */
import { readlinkSync } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import type { SandboxPolicy } from '../protocol/thread'
import { shellArgv } from './exec/shell'

/** What one environment context states; compared field by field to decide what to re-send. */
export interface EnvironmentFacts {
  cwd: string
  shell: string
  currentDate: string
  timezone: string
  filesystem: string
}

const TAG = 'environment_context'

let cachedZone: string | undefined

/** The IANA time zone as codex names it: `$TZ`, else the `/etc/localtime` link (`Etc/UTC`), else Intl's. */
export function timeZone(env: NodeJS.ProcessEnv = process.env): string {
  const configured = env.TZ?.replace(/^:/, '').trim()
  if (configured && !configured.startsWith('/')) return configured
  if (cachedZone === undefined) {
    cachedZone = Intl.DateTimeFormat().resolvedOptions().timeZone
    try {
      const link = readlinkSync('/etc/localtime')
      const at = link.indexOf('zoneinfo/')
      if (at >= 0) cachedZone = link.slice(at + 'zoneinfo/'.length)
    } catch {
      // No link (Windows, some containers): Intl's name stands.
    }
  }
  return cachedZone
}

/** `YYYY-MM-DD` in the given zone. */
export function localDate(now: Date, zone: string): string {
  try {
    return new Intl.DateTimeFormat('en-CA', { timeZone: zone }).format(now)
  } catch {
    return new Intl.DateTimeFormat('en-CA').format(now)
  }
}

/** The shell commands run in (`bash`, `zsh`, `powershell`), as the shell tool picks it. */
export function shellName(env: NodeJS.ProcessEnv = process.env): string {
  const program = shellArgv('', { env })[0] ?? 'bash'
  return basename(program).replace(/\.exe$/i, '')
}

/**
 * The `<filesystem>` element: the workspace roots, then the permission profile. A workspace-write
 * sandbox lists what may be written (each root, /tmp, $TMPDIR) and the protected folders inside each
 * root, which stay read-only (`protectedNames`, the sandbox's list).
 */
export function filesystemXml(policy: SandboxPolicy, cwd: string, protectedNames: readonly string[]): string {
  const extra =
    policy.type === 'workspaceWrite' ? (policy.writableRoots ?? []).map((r) => resolve(cwd, r)) : []
  const roots = [cwd, ...extra.filter((root) => root !== cwd)]
  const path = (root: string) => `<path>${root}</path>`
  const workspace = `<workspace_roots>${roots.map((root) => `<root>${root}</root>`).join('')}</workspace_roots>`
  let profile: string
  if (policy.type === 'dangerFullAccess' || policy.type === 'externalSandbox') {
    profile = '<permission_profile type="disabled"><file_system type="unrestricted" /></permission_profile>'
  } else {
    const entries = ['<entry access="read"><special>:root</special></entry>']
    if (policy.type === 'workspaceWrite') {
      for (const root of roots) entries.push(`<entry access="write">${path(root)}</entry>`)
      if (!policy.excludeSlashTmp) entries.push('<entry access="write"><special>:slash_tmp</special></entry>')
      if (!policy.excludeTmpdirEnvVar)
        entries.push('<entry access="write"><special>:tmpdir</special></entry>')
      for (const name of protectedNames) {
        for (const root of roots) entries.push(`<entry access="read">${path(join(root, name))}</entry>`)
      }
    }
    profile = `<permission_profile type="managed"><file_system type="restricted">${entries.join('')}</file_system></permission_profile>`
  }
  return `<filesystem>${workspace}${profile}</filesystem>`
}

/**
 * The message text. With `previous` (what the model was last told) only the changes are stated, as
 * codex does between turns; without it, everything.
 */
export function renderEnvironmentContext(facts: EnvironmentFacts, previous: EnvironmentFacts | null): string {
  const lines: string[] = []
  if (!previous || previous.cwd !== facts.cwd) {
    lines.push(`  <cwd>${facts.cwd}</cwd>`, `  <shell>${facts.shell}</shell>`)
  }
  lines.push(
    `  <current_date>${facts.currentDate}</current_date>`,
    `  <timezone>${facts.timezone}</timezone>`,
  )
  lines.push(`  ${facts.filesystem}`)
  return `<${TAG}>\n${lines.join('\n')}\n</${TAG}>`
}

/** True when the model should hear about a change (codex ignores the shell, which cannot change). */
export function environmentChanged(facts: EnvironmentFacts, previous: EnvironmentFacts | null): boolean {
  return (
    previous === null ||
    previous.cwd !== facts.cwd ||
    previous.currentDate !== facts.currentDate ||
    previous.timezone !== facts.timezone ||
    previous.filesystem !== facts.filesystem
  )
}
