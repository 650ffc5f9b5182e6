/**
 * The `sandbox-exec` command line for a sandbox policy on macOS, modelled on codex's Seatbelt base
 * policy: deny by default, allow running and forking processes, reading files and the few system
 * services a shell needs; writes only under the writable roots (minus their `.git` and `.codex`);
 * network only when the policy allows it.
 *
 * Paths never go into the profile text: they are passed as `-D` parameters and referenced with
 * `(param ...)`, so a directory name cannot rewrite the policy.
 */
import { isUnrestricted, type SandboxPolicy } from '../../protocol/thread'
import { hasNetworkAccess, protectedSubpaths, writableRoots } from './sandbox'

/** Always this absolute path: a `sandbox-exec` found on PATH could be anything. */
export const SEATBELT_EXECUTABLE = '/usr/bin/sandbox-exec'

const BASE_POLICY = `(version 1)

; closed by default; what follows opens only what a shell and its tools need
(deny default)

; children inherit this policy
(allow process-exec)
(allow process-fork)
(allow signal (target same-sandbox))
(allow process-info* (target same-sandbox))

; cf prefs and libuv's host_processor_info()
(allow user-preference-read)
(allow mach-host*)

(allow file-write-data
  (require-all
    (path "/dev/null")
    (vnode-type CHARACTER-DEVICE)))

(allow sysctl-read
  (sysctl-name "hw.activecpu")
  (sysctl-name "hw.byteorder")
  (sysctl-name "hw.cachelinesize_compat")
  (sysctl-name "hw.cpufamily")
  (sysctl-name "hw.cputype")
  (sysctl-name "hw.logicalcpu")
  (sysctl-name "hw.logicalcpu_max")
  (sysctl-name "hw.machine")
  (sysctl-name "hw.memsize")
  (sysctl-name "hw.model")
  (sysctl-name "hw.ncpu")
  (sysctl-name "hw.nperflevels")
  (sysctl-name "hw.pagesize")
  (sysctl-name "hw.pagesize_compat")
  (sysctl-name "hw.physicalcpu")
  (sysctl-name "hw.physicalcpu_max")
  (sysctl-name-prefix "hw.optional.")
  (sysctl-name-prefix "hw.perflevel")
  (sysctl-name "machdep.cpu.brand_string")
  (sysctl-name "kern.argmax")
  (sysctl-name "kern.hostname")
  (sysctl-name "kern.maxfilesperproc")
  (sysctl-name "kern.maxproc")
  (sysctl-name "kern.osproductversion")
  (sysctl-name "kern.osrelease")
  (sysctl-name "kern.ostype")
  (sysctl-name "kern.osvariant_status")
  (sysctl-name "kern.osversion")
  (sysctl-name "kern.secure_kernel")
  (sysctl-name "kern.usrstack64")
  (sysctl-name "kern.version")
  (sysctl-name "sysctl.proc_cputype")
  (sysctl-name "vm.loadavg")
  (sysctl-name-prefix "kern.proc.pgrp.")
  (sysctl-name-prefix "kern.proc.pid.")
  (sysctl-name-prefix "net.routetable."))

; user lookups (getpwuid) and Python's multiprocessing semaphores
(allow mach-lookup
  (global-name "com.apple.system.opendirectoryd.libinfo")
  (global-name "com.apple.PowerManagement.control"))
(allow ipc-posix-sem)

; openpty() and the terminals it hands out
(allow pseudo-tty)
(allow file-read* file-write* file-ioctl (literal "/dev/ptmx"))
(allow file-write-data
  (require-all
    (regex #"^/dev/ttys[0-9]+")
    (vnode-type CHARACTER-DEVICE)))
(allow file-ioctl (regex #"^/dev/ttys[0-9]+"))

; reads are not confined
(allow file-read*)
`

const NETWORK_POLICY = `
; the policy allows the network
(allow network-outbound)
(allow network-inbound)
(allow system-socket)
(allow mach-lookup
  (global-name "com.apple.bsd.dirhelper")
  (global-name "com.apple.system.opendirectoryd.membership")
  (global-name "com.apple.SecurityServer")
  (global-name "com.apple.networkd")
  (global-name "com.apple.ocspd")
  (global-name "com.apple.trustd.agent")
  (global-name "com.apple.SystemConfiguration.DNSConfiguration")
  (global-name "com.apple.SystemConfiguration.configd"))
(allow sysctl-read (sysctl-name-regex #"^net.routetable"))
`

/**
 * `['/usr/bin/sandbox-exec', '-p', profile, '-DWRITABLE_ROOT_0=/path', ..., '--', ...argv]`. Each
 * root's protected subpaths become `WRITABLE_ROOT_<i>_RO_<j>` and are carved out of its write rule.
 */
export function seatbeltArgv(argv: string[], policy: SandboxPolicy, cwd: string): string[] {
  if (isUnrestricted(policy)) return argv
  const params: string[] = []
  const writeRules: string[] = []
  for (const [index, root] of writableRoots(policy, cwd).entries()) {
    const rootParam = `WRITABLE_ROOT_${index}`
    params.push(`-D${rootParam}=${root}`)
    const exclusions = protectedSubpaths(root).map((subpath, subIndex) => {
      const subParam = `${rootParam}_RO_${subIndex}`
      params.push(`-D${subParam}=${subpath}`)
      return `(require-not (subpath (param "${subParam}")))`
    })
    writeRules.push(`  (require-all (subpath (param "${rootParam}")) ${exclusions.join(' ')})`)
  }
  let profile = BASE_POLICY
  if (writeRules.length > 0)
    profile += `\n; writes only under the writable roots\n(allow file-write*\n${writeRules.join('\n')})\n`
  if (hasNetworkAccess(policy)) profile += NETWORK_POLICY
  return [SEATBELT_EXECUTABLE, '-p', profile, ...params, '--', ...argv]
}
