/**
 * Changing a loaded thread's sticky settings, as `thread/settings/update` and `turn/start`'s
 * overrides do, and announcing the result: `thread/settings/updated {threadId, threadSettings}`
 * goes to the thread's subscribers whenever what the next turn runs with actually changed (codex
 * 0.169 stays silent for an update that changes nothing). Also the checks codex makes on those
 * params, with its messages.
 *
 * It must never persist or announce a change it has not validated: every check runs before the
 * `thread_settings` line is written.
 */
import { stat } from 'node:fs/promises'
import { resolve as resolvePath } from 'node:path'
import { invalidRequest } from '../protocol/errors'
import type {
  CollaborationMode,
  SandboxMode,
  SandboxPolicy,
  ThreadSettings as WireThreadSettings,
  ThreadSettingsUpdateParams,
} from '../protocol/thread'
import type { LiveThread } from './liveThread'
import { logIgnoredParams } from './ignoredParams'
import type { ThreadSettings } from './rollout'
import type { ThreadManager } from './threadManager'
import { pickOverrides, type OverrideParams, type ResolvedThreadSettings } from './threadSettings'

// ---------------------------------------------------------------------------------------------
// Checks, in codex's words

/** codex's text for an empty reasoning effort (any other string is taken and sent on). */
export function assertEffort(...efforts: (string | null | undefined)[]): void {
  if (efforts.some((effort) => effort === '')) {
    throw invalidRequest('Invalid request: reasoning_effort must not be empty')
  }
}

/** A permission profile id replaces the sandbox: codex refuses a request that sets both. */
export function assertPermissionsExclusive(
  permissions: string | null | undefined,
  sandbox: unknown,
  sandboxField: 'sandbox' | 'sandboxPolicy',
): void {
  if (permissions != null && sandbox != null) {
    throw invalidRequest(`\`permissions\` cannot be combined with \`${sandboxField}\``)
  }
}

const HEX = /^[0-9a-fA-F]$/
const GROUP_LENGTHS = [8, 4, 4, 4, 12]

/**
 * Why `id` is not a UUID, worded as the uuid crate codex parses thread ids with; null when it is
 * one (simple, hyphenated, braced or `urn:uuid:` form).
 */
export function uuidProblem(id: string): string | null {
  let body = id
  let offset = 0
  if (body.startsWith('urn:uuid:')) {
    body = body.slice(9)
    offset = 9
  } else if (body.startsWith('{') && body.endsWith('}')) {
    body = body.slice(1, -1)
    offset = 1
  }
  const chars = [...body]
  const bad = chars.findIndex((c) => c !== '-' && !HEX.test(c))
  if (bad !== -1) {
    return `invalid character: expected an optional prefix of \`urn:uuid:\` followed by [0-9a-fA-F-], found \`${chars[bad]}\` at ${bad + offset + 1}`
  }
  const groups = body.split('-')
  if (groups.length === 1) {
    return body.length === 32
      ? null
      : `invalid length: expected length 32 for simple format, found ${body.length}`
  }
  if (groups.length !== 5) return `invalid group count: expected 5, found ${groups.length}`
  const wrong = groups.findIndex((group, i) => group.length !== GROUP_LENGTHS[i])
  if (wrong === -1) return null
  return `invalid group length in group ${wrong}: expected ${GROUP_LENGTHS[wrong]}, found ${groups[wrong]?.length ?? 0}`
}

/**
 * A thread's new working folder (thread/start, thread/settings/update) must be a folder. codex 0.169
 * takes a path that does not exist, and every command then fails; codex-desk says so at once instead.
 */
export async function assertFolder(cwd: string): Promise<void> {
  const info = await stat(cwd).catch(() => null)
  if (!info) throw invalidRequest(`the folder ${cwd} does not exist`)
  if (!info.isDirectory()) throw invalidRequest(`${cwd} is not a folder`)
}

/** The loaded thread `thread/settings/update` names: `invalid thread id: …` or `thread not found: <id>`. */
export function settingsTarget(threads: ThreadManager, threadId: string): LiveThread {
  const problem = uuidProblem(threadId)
  if (problem) throw invalidRequest(`invalid thread id: ${problem}`)
  const live = threads.get(threadId)
  if (!live) throw invalidRequest(`thread not found: ${threadId}`)
  return live
}

// ---------------------------------------------------------------------------------------------
// Params to sticky overrides

/** codex reports a sandbox policy with every field filled; store it that way. */
export function completeSandboxPolicy(policy: SandboxPolicy): SandboxPolicy {
  switch (policy.type) {
    case 'readOnly':
      return { type: 'readOnly', networkAccess: policy.networkAccess ?? false }
    case 'workspaceWrite':
      return {
        type: 'workspaceWrite',
        writableRoots: policy.writableRoots ?? [],
        networkAccess: policy.networkAccess ?? false,
        excludeTmpdirEnvVar: policy.excludeTmpdirEnvVar ?? false,
        excludeSlashTmp: policy.excludeSlashTmp ?? false,
      }
    case 'externalSandbox':
      return { type: 'externalSandbox', networkAccess: policy.networkAccess ?? 'restricted' }
    default:
      return policy
  }
}

/** The kebab-case mode a policy corresponds to, for the requirements check. */
export function sandboxModeOf(policy: SandboxPolicy | null | undefined): SandboxMode | undefined {
  switch (policy?.type) {
    case 'readOnly':
      return 'read-only'
    case 'workspaceWrite':
      return 'workspace-write'
    case 'dangerFullAccess':
      return 'danger-full-access'
    default:
      return undefined
  }
}

/** The fields turn/start and thread/settings/update share. */
export interface TurnSettingsParams {
  model?: string | null | undefined
  effort?: string | null | undefined
  summary?: string | null | undefined
  cwd?: string | null | undefined
  approvalPolicy?: OverrideParams['approvalPolicy']
  approvalsReviewer?: OverrideParams['approvalsReviewer']
  sandboxPolicy?: SandboxPolicy | null | undefined
  personality?: string | null | undefined
  disabledPluginIds?: string[] | null | undefined
  collaborationMode?: CollaborationMode | null | undefined
}

/**
 * The sticky overrides of turn/start or thread/settings/update. A collaboration mode wins over
 * `model` and `effort` (its null effort clears the effort), as in codex.
 */
export function turnSettingsOverrides(params: TurnSettingsParams): ThreadSettings {
  const out = pickOverrides(params, [
    'cwd',
    'approvalPolicy',
    'approvalsReviewer',
    'model',
    'effort',
    'summary',
    'personality',
    'disabledPluginIds',
  ])
  if (params.sandboxPolicy) out.sandboxPolicy = completeSandboxPolicy(params.sandboxPolicy)
  const mode = params.collaborationMode
  if (mode) {
    out.collaborationMode = mode
    out.model = mode.settings.model
    out.effort = mode.settings.reasoning_effort ?? null
  }
  return out
}

/** thread/settings/update's overrides; `serviceTier: null` clears the tier (omitted keeps it). */
export function settingsUpdateOverrides(params: ThreadSettingsUpdateParams): ThreadSettings {
  const out = turnSettingsOverrides(params)
  if (params.serviceTier !== undefined) out.serviceTier = params.serviceTier
  return out
}

// ---------------------------------------------------------------------------------------------
// What clients hear

/** The settings as `thread/settings/updated` reports them. */
export function wireThreadSettings(s: ResolvedThreadSettings, sticky: ThreadSettings): WireThreadSettings {
  const mode = sticky.collaborationMode as CollaborationMode | undefined
  return {
    disabledPluginIds: Array.isArray(sticky.disabledPluginIds) ? (sticky.disabledPluginIds as string[]) : [],
    cwd: s.cwd,
    // codex-desk runs turns locally in `cwd` and has no environment selection to report.
    environments: null,
    approvalPolicy: s.approvalPolicy,
    approvalsReviewer: s.approvalsReviewer,
    sandboxPolicy: s.sandboxPolicy,
    // Permission profiles are not implemented: the sandbox policy is what applies.
    activePermissionProfile: null,
    model: s.model,
    modelProvider: s.modelProvider,
    serviceTier: s.serviceTier,
    effort: s.effort,
    summary: (s.summary as WireThreadSettings['summary'] | null) ?? null,
    collaborationMode: {
      mode: mode?.mode ?? 'default',
      settings: {
        model: s.model,
        reasoning_effort: s.effort,
        developer_instructions: mode?.settings.developer_instructions ?? null,
      },
    },
    multiAgentMode: 'explicitRequestOnly',
    personality: (sticky.personality as WireThreadSettings['personality'] | undefined) ?? null,
  }
}

/**
 * Applies (and persists) the overrides, then hands `thread/settings/updated` to `announce` if
 * the thread's settings changed. `announce` decides when it goes out (turn/start sends it before
 * its response, thread/settings/update after).
 */
export async function applySettings(
  threads: ThreadManager,
  live: LiveThread,
  overrides: ThreadSettings,
  announce: (send: () => void) => void,
): Promise<void> {
  if (Object.keys(overrides).length === 0) return
  const before = JSON.stringify(wireThreadSettings(threads.settingsOf(live), live.sticky))
  await threads.applyOverrides(live, overrides)
  const threadSettings = wireThreadSettings(threads.settingsOf(live), live.sticky)
  if (JSON.stringify(threadSettings) === before) return
  announce(() =>
    threads.events.toSubscribers(live.id, 'thread/settings/updated', { threadId: live.id, threadSettings }),
  )
}

/** thread/settings/update: validate, apply, persist, and announce after the response. */
export async function updateThreadSettings(
  threads: ThreadManager,
  params: ThreadSettingsUpdateParams,
  afterResponse: (fn: () => void) => void,
): Promise<void> {
  const live = settingsTarget(threads, params.threadId)
  assertEffort(params.effort, params.collaborationMode?.settings.reasoning_effort)
  assertPermissionsExclusive(params.permissions, params.sandboxPolicy, 'sandboxPolicy')
  const sandbox = sandboxModeOf(params.sandboxPolicy)
  await threads.checkOverrideRequirements({
    approvalPolicy: params.approvalPolicy,
    ...(sandbox ? { sandbox } : {}),
  })
  if (params.cwd) await assertFolder(resolvePath(params.cwd))
  logIgnoredParams(threads.log, 'thread/settings/update', params)
  await applySettings(threads, live, settingsUpdateOverrides(params), afterResponse)
}
