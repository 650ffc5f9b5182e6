/**
 * The seccomp filter bubblewrap installs on a sandboxed command, built here as a classic-BPF program
 * (`struct sock_filter[]`, 8 bytes an instruction) so no native module is needed. bwrap reads it
 * from a file descriptor (`--seccomp FD`) and loads it just before it executes the command.
 *
 * Without network access the filter cuts every way out through sockets that the network namespace
 * does not: a unix socket on the host (Docker, D-Bus, ssh-agent) is a path in the filesystem, not an
 * address in the namespace. So `connect` fails with EPERM, only unix-domain sockets can be created,
 * and only the connection-oriented kinds (a datagram socket can send to a host socket's path without
 * connecting), so a connected `socketpair` for talking to a child still works. With network access
 * only VM sockets (AF_VSOCK, which reach the host whatever the namespace) are refused. Both modes
 * refuse io_uring, which can open and connect sockets without the syscalls the filter checks.
 *
 * It must never allow a syscall of another ABI through (a 32-bit call has other numbers: the process
 * is killed; an x32 call on x86_64 gets EPERM), and it builds nothing for an architecture whose
 * syscall numbers it does not know: the caller says so to the user instead.
 */
import os from 'node:os'

/** The architectures whose syscall numbers this module knows. */
export type SeccompArch = 'x86_64' | 'aarch64'

/** One classic-BPF instruction (`struct sock_filter`). Jumps are relative to the next instruction. */
export interface BpfInstruction {
  code: number
  jt: number
  jf: number
  k: number
}

// Opcodes (linux/bpf_common.h).
export const BPF_LD_W_ABS = 0x20 // BPF_LD | BPF_W | BPF_ABS
export const BPF_ALU_AND_K = 0x54 // BPF_ALU | BPF_AND | BPF_K
export const BPF_JEQ_K = 0x15 // BPF_JMP | BPF_JEQ | BPF_K
export const BPF_JGE_K = 0x35 // BPF_JMP | BPF_JGE | BPF_K
export const BPF_RET_K = 0x06 // BPF_RET | BPF_K

// Return values (linux/seccomp.h).
export const SECCOMP_RET_KILL_PROCESS = 0x80000000
export const SECCOMP_RET_ALLOW = 0x7fff0000
const SECCOMP_RET_ERRNO = 0x00050000
const EPERM = 1
export const SECCOMP_RET_EPERM = SECCOMP_RET_ERRNO | EPERM

// `struct seccomp_data` offsets; an argument's low 32 bits come first on a little-endian machine.
export const SECCOMP_DATA_NR = 0
export const SECCOMP_DATA_ARCH = 4
export const seccompDataArgLow = (index: number): number => 16 + 8 * index

export const AUDIT_ARCH: Record<SeccompArch, number> = {
  x86_64: 0xc000003e,
  aarch64: 0xc00000b7,
}

/** x32 syscalls on x86_64 carry this bit and share AUDIT_ARCH_X86_64, so they must be refused apart. */
export const X32_SYSCALL_BIT = 0x40000000

export const AF_UNIX = 1
export const AF_VSOCK = 40
export const SOCK_DGRAM = 2
/** `type` also carries SOCK_NONBLOCK and SOCK_CLOEXEC; the kind is in the low bits. */
const SOCK_TYPE_MASK = 0xf

interface SyscallNumbers {
  socket: number
  socketpair: number
  connect: number
  ptrace: number
  process_vm_readv: number
  process_vm_writev: number
  io_uring_setup: number
  io_uring_enter: number
  io_uring_register: number
}

/** From arch/x86/entry/syscalls/syscall_64.tbl and include/uapi/asm-generic/unistd.h (aarch64). */
export const SYSCALLS: Record<SeccompArch, SyscallNumbers> = {
  x86_64: {
    socket: 41,
    connect: 42,
    socketpair: 53,
    ptrace: 101,
    process_vm_readv: 310,
    process_vm_writev: 311,
    io_uring_setup: 425,
    io_uring_enter: 426,
    io_uring_register: 427,
  },
  aarch64: {
    socket: 198,
    socketpair: 199,
    connect: 203,
    ptrace: 117,
    process_vm_readv: 270,
    process_vm_writev: 271,
    io_uring_setup: 425,
    io_uring_enter: 426,
    io_uring_register: 427,
  },
}

/** The seccomp architecture of this process, or null when the filter cannot be built for it. */
export function seccompArch(
  arch: string = process.arch,
  endianness: string = os.endianness(),
): SeccompArch | null {
  if (endianness !== 'LE') return null
  if (arch === 'x64') return 'x86_64'
  if (arch === 'arm64') return 'aarch64'
  return null
}

/** Why there is no filter on this machine, for the user; null when there is one. */
export function seccompUnsupportedReason(
  arch: string = process.arch,
  endianness: string = os.endianness(),
): string | null {
  if (seccompArch(arch, endianness) !== null) return null
  return `no seccomp filter for ${arch} (${endianness}): sandboxed commands can still reach unix sockets on the host`
}

type Target = 'errno' | 'kill' | 'allow' | 'socketArgs'

/** A tiny assembler: instructions whose jumps name a label, resolved to offsets once all are placed. */
class Program {
  private readonly code: Array<{ code: number; k: number; jt?: Target; jf?: Target }> = []
  private readonly labels = new Map<Target, number>()

  load(offset: number): void {
    this.code.push({ code: BPF_LD_W_ABS, k: offset })
  }

  and(mask: number): void {
    this.code.push({ code: BPF_ALU_AND_K, k: mask })
  }

  /** if (A == k) goto target */
  ifEqual(k: number, target: Target): void {
    this.code.push({ code: BPF_JEQ_K, k, jt: target })
  }

  /** if (A != k) goto target */
  ifNotEqual(k: number, target: Target): void {
    this.code.push({ code: BPF_JEQ_K, k, jf: target })
  }

  /** if (A >= k) goto target */
  ifAtLeast(k: number, target: Target): void {
    this.code.push({ code: BPF_JGE_K, k, jt: target })
  }

  ret(value: number): void {
    this.code.push({ code: BPF_RET_K, k: value })
  }

  label(name: Target): void {
    this.labels.set(name, this.code.length)
  }

  assemble(): BpfInstruction[] {
    return this.code.map((instruction, index) => {
      const offset = (target: Target | undefined): number => {
        if (target === undefined) return 0
        const at = this.labels.get(target)
        if (at === undefined) throw new Error(`seccomp: no label ${target}`)
        const jump = at - index - 1
        // Classic BPF only jumps forward, at most 255 instructions.
        if (jump < 0 || jump > 255) throw new Error(`seccomp: jump to ${target} out of range`)
        return jump
      }
      return {
        code: instruction.code,
        jt: offset(instruction.jt),
        jf: offset(instruction.jf),
        k: instruction.k >>> 0,
      }
    })
  }
}

/**
 * The filter for a sandboxed command. `networkAccess` false: connect, non-unix and datagram unix
 * sockets, ptrace and cross-process memory access, io_uring are refused with EPERM. `networkAccess`
 * true: only VM sockets and io_uring. Everything else is allowed.
 */
export function seccompProgram(arch: SeccompArch, options: { networkAccess: boolean }): BpfInstruction[] {
  const nr = SYSCALLS[arch]
  const program = new Program()
  program.load(SECCOMP_DATA_ARCH)
  program.ifNotEqual(AUDIT_ARCH[arch], 'kill')
  program.load(SECCOMP_DATA_NR)
  if (arch === 'x86_64') program.ifAtLeast(X32_SYSCALL_BIT, 'errno')
  const denied = [nr.io_uring_setup, nr.io_uring_enter, nr.io_uring_register]
  if (!options.networkAccess) {
    // codex refuses these too when the network is cut: a traced child could be steered around the
    // filter on old kernels, and another process's memory is not the command's to read.
    denied.push(nr.connect, nr.ptrace, nr.process_vm_readv, nr.process_vm_writev)
  }
  for (const number of denied) program.ifEqual(number, 'errno')
  program.ifEqual(nr.socket, 'socketArgs')
  program.ifEqual(nr.socketpair, 'socketArgs')
  program.label('allow')
  program.ret(SECCOMP_RET_ALLOW)

  // socket(domain, type, protocol) and socketpair(domain, type, protocol, sv) share the first two.
  program.label('socketArgs')
  program.load(seccompDataArgLow(0))
  if (options.networkAccess) {
    program.ifEqual(AF_VSOCK, 'errno')
  } else {
    program.ifNotEqual(AF_UNIX, 'errno')
    program.load(seccompDataArgLow(1))
    program.and(SOCK_TYPE_MASK)
    program.ifEqual(SOCK_DGRAM, 'errno')
  }
  program.ret(SECCOMP_RET_ALLOW)

  program.label('errno')
  program.ret(SECCOMP_RET_EPERM)
  program.label('kill')
  program.ret(SECCOMP_RET_KILL_PROCESS)
  return program.assemble()
}

/** The bytes bwrap reads: each instruction as u16 code, u8 jt, u8 jf, u32 k, little-endian. */
export function encodeSeccompProgram(program: readonly BpfInstruction[]): Buffer {
  const bytes = Buffer.alloc(program.length * 8)
  program.forEach((instruction, index) => {
    bytes.writeUInt16LE(instruction.code, index * 8)
    bytes.writeUInt8(instruction.jt, index * 8 + 2)
    bytes.writeUInt8(instruction.jf, index * 8 + 3)
    bytes.writeUInt32LE(instruction.k, index * 8 + 4)
  })
  return bytes
}

/** The encoded filter for this machine and policy, or null where no filter can be built. */
export function seccompFilterFor(options: { networkAccess: boolean }): Buffer | null {
  const arch = seccompArch()
  return arch === null ? null : encodeSeccompProgram(seccompProgram(arch, options))
}
