/**
 * The bubblewrap command line for a sandbox policy on Linux, modelled on codex's linux-sandbox: the
 * whole filesystem read-only, writable roots bound back on top, `.git`/`.codex` inside them bound
 * read-only again, a private `/tmp`, no network unless the policy allows it, and a fresh pid
 * namespace so nothing the command starts outlives it. Root inside is powerless: every capability is
 * dropped (bwrap keeps them for a root caller otherwise, and with CAP_SYS_ADMIN a command could
 * remount a read-only bind writable), in a user namespace of its own where the machine allows one,
 * and a seccomp filter (seccomp.ts, on descriptor 3) cuts host unix sockets when the network is.
 *
 * It must never mount anything writable the policy did not name, and never depend on mount order
 * by accident: the order of the arguments below is the order bwrap applies them, and later mounts win.
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs'
import path from 'node:path'
import { isUnrestricted, type SandboxPolicy } from '../../protocol/thread'
import { attachInputFds } from '../exec/run'
import { hasNetworkAccess, protectedSubpaths, realpathOrResolved, writableRoots } from './sandbox'
import { seccompFilterFor } from './seccomp'

/** How bwrap isolates on this machine, as the sandbox probe found it. */
export interface BwrapIsolation {
  /** `--unshare-user`: a user namespace of its own (uid 0 stays uid 0, mapped to the caller). */
  userNamespace: boolean
  /** `--cap-drop ALL`: no capability left, even for a root caller. */
  dropCapabilities: boolean
}

/** The strongest isolation; what a command gets until a probe says the machine cannot give it. */
export const FULL_ISOLATION: BwrapIsolation = { userNamespace: true, dropCapabilities: true }

let isolation: BwrapIsolation = FULL_ISOLATION

/** Set by the sandbox probe: the isolation the commands that follow are wrapped with. */
export function setBwrapIsolation(found: BwrapIsolation): void {
  isolation = found
}

/** The bwrap options that make root inside powerless, for a probe or a command. */
export function isolationArgs(found: BwrapIsolation = isolation): string[] {
  return [
    ...(found.userNamespace ? ['--unshare-user'] : []),
    ...(found.dropCapabilities ? ['--cap-drop', 'ALL'] : []),
  ]
}

/** The descriptor bwrap reads the seccomp program from (the first after stdio). */
export const SECCOMP_FD = 3

function isExecutableFile(candidate: string): boolean {
  try {
    accessSync(candidate, constants.X_OK)
    return statSync(candidate).isFile()
  } catch {
    return false
  }
}

/** The bwrap binary: `CODEX_DESK_BWRAP` when set, else the first `bwrap` on PATH; null when there is none. */
export function findBwrap(env: NodeJS.ProcessEnv = process.env): string | null {
  const override = env.CODEX_DESK_BWRAP
  if (override) return isExecutableFile(override) ? path.resolve(override) : null
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue
    const candidate = path.join(dir, 'bwrap')
    if (isExecutableFile(candidate)) return candidate
  }
  return isExecutableFile('/usr/bin/bwrap') ? '/usr/bin/bwrap' : null
}

function isWithin(parent: string, child: string): boolean {
  return child === parent || child.startsWith(parent.endsWith('/') ? parent : `${parent}/`)
}

/**
 * bwrap argv for a policy. /tmp is a private, empty tmpfs for readOnly and for workspaceWrite
 * (unless excludeSlashTmp): scratch files work, but nothing written there reaches the host's /tmp
 * or is read from it. For readOnly this is a deliberate loosening of codex (whose /tmp stays the
 * host's, read-only) because compilers and test runners fail without scratch space, and a private
 * tmpfs leaks nothing.
 */
export function bwrapArgv(argv: string[], policy: SandboxPolicy, cwd: string): string[] {
  if (isUnrestricted(policy)) return argv
  const realCwd = realpathOrResolved(cwd)
  const privateTmp =
    policy.type === 'readOnly' ||
    (policy.type === 'workspaceWrite' && !policy.excludeSlashTmp && existsSync('/tmp'))
  const realTmp = privateTmp ? realpathOrResolved('/tmp') : null

  const args = [findBwrap() ?? 'bwrap', ...isolationArgs(), '--new-session', '--die-with-parent']
  // Everything read-only first; a fresh /dev (with /dev/null, /dev/urandom) and /proc for the new
  // pid namespace, since the host's would be read-only or wrong.
  args.push('--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc')
  if (realTmp !== null) args.push('--tmpfs', realTmp)

  // The tmpfs root itself needs no bind; everything else writable is bound from the host, after the
  // tmpfs so roots that live under /tmp (a cwd from mkdtemp) show through it.
  // A configured root that does not exist cannot be bound (bwrap would refuse to start at all), and
  // leaving it out only keeps it read-only.
  const roots = writableRoots(policy, cwd).filter((root) => root !== realTmp && existsSync(root))
  for (const root of roots) args.push('--bind', root, root)
  if (realTmp !== null && !roots.some((root) => isWithin(root, realCwd)) && isWithin(realTmp, realCwd)) {
    // A read-only cwd under /tmp would vanish behind the tmpfs; show it, still read-only.
    args.push('--ro-bind', realCwd, realCwd)
  }
  // Protected paths last, so they win over the writable binds that contain them.
  for (const root of roots) {
    for (const protectedPath of protectedSubpaths(root)) {
      if (existsSync(protectedPath)) args.push('--ro-bind', protectedPath, protectedPath)
    }
  }

  args.push('--unshare-pid')
  const networkAccess = hasNetworkAccess(policy)
  if (!networkAccess) args.push('--unshare-net')
  // Where no filter can be built (another architecture) the probe has told the user what is left open.
  const filter = seccompFilterFor({ networkAccess })
  if (filter !== null) args.push('--seccomp', String(SECCOMP_FD))
  args.push('--chdir', realCwd, '--', ...argv)
  return filter === null ? args : attachInputFds(args, [filter])
}
