/**
 * Which sandbox this machine can give model-run commands (bubblewrap on Linux, Seatbelt on macOS),
 * what a `SandboxPolicy` lets a command write, and the argv that enforces it.
 *
 * It must never report a sandbox it has not proven to work (a bwrap binary that cannot create
 * namespaces is "none", with the reason for the user), and never widen a policy: whatever cannot be
 * expressed is left read-only. It decides nothing about approvals.
 */
import { existsSync, realpathSync, statSync } from 'node:fs'
import path from 'node:path'
import { isUnrestricted, type SandboxPolicy } from '../../protocol/thread'
import { runCommand } from '../exec/run'
import {
  bwrapArgv,
  findBwrap,
  FULL_ISOLATION,
  isolationArgs,
  SECCOMP_FD,
  setBwrapIsolation,
  type BwrapIsolation,
} from './bwrap'
import { seccompFilterFor, seccompUnsupportedReason } from './seccomp'
import { SEATBELT_EXECUTABLE, seatbeltArgv } from './seatbelt'

export type SandboxKind = 'bwrap' | 'seatbelt' | 'none'

export interface SandboxAvailability {
  kind: SandboxKind
  /** Why there is none, for a user-facing warning. */
  reason: string | null
  /**
   * What the sandbox there is cannot enforce on this machine (no user namespace, no seccomp filter
   * for the architecture), for a user-facing warning; absent when it enforces everything.
   */
  limits?: string
}

/** Directories inside a writable root that stay read-only: codex protects the repository and its own state. */
export const PROTECTED_NAMES = ['.git', '.codex']

const PROBE_TIMEOUT_MS = 10_000

let detection: Promise<SandboxAvailability> | null = null

/** Cached per process; `CODEX_DESK_SANDBOX=none` forces none so the unsandboxed path can be exercised. */
export function detectSandbox(): Promise<SandboxAvailability> {
  detection ??= detect()
  return detection
}

/** For tests: forget the cached result. */
export function resetSandboxDetection(): void {
  detection = null
  setBwrapIsolation(FULL_ISOLATION)
}

/**
 * What bwrap is tried with, strongest first. A root caller must get its capabilities dropped or have
 * no sandbox at all: without that, root inside can remount the read-only filesystem writable. Another
 * caller has none to drop, and a setuid bwrap refuses `--cap-drop` without a user namespace.
 */
function isolationCandidates(): BwrapIsolation[] {
  const candidates: BwrapIsolation[] = [FULL_ISOLATION, { userNamespace: false, dropCapabilities: true }]
  if (process.getuid?.() !== 0) candidates.push({ userNamespace: false, dropCapabilities: false })
  return candidates
}

async function detect(): Promise<SandboxAvailability> {
  if (process.env.CODEX_DESK_SANDBOX === 'none') {
    return { kind: 'none', reason: 'disabled by CODEX_DESK_SANDBOX=none' }
  }
  if (process.platform === 'darwin') {
    return existsSync(SEATBELT_EXECUTABLE)
      ? { kind: 'seatbelt', reason: null }
      : { kind: 'none', reason: `${SEATBELT_EXECUTABLE} is missing` }
  }
  if (process.platform !== 'linux') {
    return { kind: 'none', reason: `no sandbox is available on ${process.platform}` }
  }
  const bwrap = findBwrap()
  if (!bwrap) {
    return { kind: 'none', reason: 'bubblewrap (bwrap) is not installed or not on PATH' }
  }
  // Installed is not enough: user namespaces may be disabled (sysctl, AppArmor, a container), and
  // then every wrapped command would fail. Probe with everything a command gets, filter included.
  const filter = seccompFilterFor({ networkAccess: false })
  let detail = ''
  for (const candidate of isolationCandidates()) {
    const probe = await runCommand({
      argv: [
        bwrap,
        ...isolationArgs(candidate),
        '--new-session',
        '--die-with-parent',
        '--ro-bind',
        '/',
        '/',
        '--dev',
        '/dev',
        '--proc',
        '/proc',
        '--unshare-pid',
        '--unshare-net',
        ...(filter !== null ? ['--seccomp', String(SECCOMP_FD)] : []),
        '--',
        'true',
      ],
      cwd: '/',
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      timeoutMs: PROBE_TIMEOUT_MS,
      inputFds: filter !== null ? [filter] : [],
    })
    if (probe.spawnError === null && probe.exitCode === 0) {
      setBwrapIsolation(candidate)
      const limits = [
        candidate.userNamespace ? null : 'no user namespace for sandboxed commands',
        seccompUnsupportedReason(),
      ].filter((limit): limit is string => limit !== null)
      return limits.length > 0
        ? { kind: 'bwrap', reason: null, limits: limits.join('; ') }
        : { kind: 'bwrap', reason: null }
    }
    detail ||= probe.spawnError ?? (probe.output.trim() || `exit code ${probe.exitCode ?? probe.signal}`)
  }
  return { kind: 'none', reason: `bubblewrap at ${bwrap} cannot create a sandbox here: ${detail}` }
}

/** Realpath when the path exists, so a symlinked root and its target count as one. */
export function realpathOrResolved(target: string): string {
  const absolute = path.resolve(target)
  try {
    return realpathSync.native(absolute)
  } catch {
    return absolute
  }
}

/**
 * The real path of `target` even when it does not exist yet: the deepest existing ancestor is
 * resolved and the missing rest appended, so `link/../x` or a symlinked parent cannot escape a root.
 */
function realpathOfMaybeMissing(target: string): string {
  const absolute = path.resolve(target)
  const missing: string[] = []
  let current = absolute
  for (;;) {
    try {
      return path.join(realpathSync.native(current), ...missing.reverse())
    } catch {
      const parent = path.dirname(current)
      if (parent === current) return absolute
      missing.push(path.basename(current))
      current = parent
    }
  }
}

function isDirectory(target: string): boolean {
  try {
    return statSync(target).isDirectory()
  } catch {
    return false
  }
}

/** Whether a wrapped command may use the network. */
export function hasNetworkAccess(policy: SandboxPolicy): boolean {
  switch (policy.type) {
    case 'dangerFullAccess':
      return true
    case 'externalSandbox':
      return policy.networkAccess === 'enabled'
    case 'readOnly':
    case 'workspaceWrite':
      return policy.networkAccess === true
  }
}

/**
 * Absolute writable roots of a policy for a cwd: workspaceWrite → cwd + writableRoots (resolved
 * against cwd) + /tmp (unless excludeSlashTmp) + $TMPDIR (unless excludeTmpdirEnvVar); readOnly → [];
 * dangerFullAccess/externalSandbox → ['/']. Real paths where they exist, no duplicates.
 */
export function writableRoots(policy: SandboxPolicy, cwd: string): string[] {
  if (isUnrestricted(policy)) return ['/']
  if (policy.type !== 'workspaceWrite') return []
  const candidates = [cwd, ...(policy.writableRoots ?? []).map((root) => path.resolve(cwd, root))]
  if (!policy.excludeSlashTmp && process.platform !== 'win32' && isDirectory('/tmp')) candidates.push('/tmp')
  const tmpdir = process.env.TMPDIR
  if (!policy.excludeTmpdirEnvVar && tmpdir && path.isAbsolute(tmpdir)) candidates.push(tmpdir)
  const roots: string[] = []
  for (const candidate of candidates) {
    const root = realpathOrResolved(candidate)
    if (!roots.includes(root)) roots.push(root)
  }
  return roots
}

/** The protected paths under a writable root, whether or not they exist yet. */
export function protectedSubpaths(root: string): string[] {
  return PROTECTED_NAMES.map((name) => path.join(root, name))
}

function isWithin(parent: string, child: string): boolean {
  if (parent === '/') return child.startsWith('/')
  return child === parent || child.startsWith(parent.endsWith(path.sep) ? parent : parent + path.sep)
}

/**
 * True when `target` (absolute, or relative to cwd) is inside a writable root, after resolving `..`
 * and symlinks. `.git` and `.codex` directly inside a root stay read-only, so a path there is not
 * writable even before they exist.
 */
export function isPathWritable(target: string, policy: SandboxPolicy, cwd: string): boolean {
  if (isUnrestricted(policy)) return true
  const resolved = realpathOfMaybeMissing(path.resolve(cwd, target))
  return writableRoots(policy, cwd).some(
    (root) =>
      isWithin(root, resolved) &&
      !protectedSubpaths(root).some((protectedPath) => isWithin(protectedPath, resolved)),
  )
}

/** Wrap argv for the sandbox kind and policy. dangerFullAccess/externalSandbox → argv unchanged. */
export function sandboxArgv(
  argv: string[],
  policy: SandboxPolicy,
  options: { cwd: string; kind: SandboxKind },
): string[] {
  if (isUnrestricted(policy)) return argv
  switch (options.kind) {
    case 'bwrap':
      return bwrapArgv(argv, policy, options.cwd)
    case 'seatbelt':
      return seatbeltArgv(argv, policy, options.cwd)
    case 'none':
      // The caller has warned the user (detectSandbox's reason); there is nothing to wrap with.
      return argv
  }
}
