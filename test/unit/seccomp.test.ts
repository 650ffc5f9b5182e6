/**
 * The seccomp program bubblewrap loads for a sandboxed command: its shape (the architecture check
 * first, every jump inside the program, a return at every end) and what it answers, run through a
 * small classic-BPF interpreter over made-up `seccomp_data`.
 */
import { describe, expect, it } from 'vitest'
import {
  AF_UNIX,
  AF_VSOCK,
  AUDIT_ARCH,
  BPF_ALU_AND_K,
  BPF_JEQ_K,
  BPF_JGE_K,
  BPF_LD_W_ABS,
  BPF_RET_K,
  encodeSeccompProgram,
  SECCOMP_DATA_ARCH,
  SECCOMP_RET_ALLOW,
  SECCOMP_RET_EPERM,
  SECCOMP_RET_KILL_PROCESS,
  seccompArch,
  seccompProgram,
  seccompUnsupportedReason,
  SOCK_DGRAM,
  SYSCALLS,
  X32_SYSCALL_BIT,
  type BpfInstruction,
  type SeccompArch,
} from '../../src/worker/agent/sandbox/seccomp'

const AF_INET = 2
const AF_INET6 = 10
const AF_NETLINK = 16
const SOCK_STREAM = 1
const SOCK_SEQPACKET = 5
const SOCK_NONBLOCK = 0x800
const SOCK_CLOEXEC = 0x80000

interface SeccompData {
  nr: number
  arch: number
  args?: number[]
}

/** Runs a program the way the kernel does, over a little-endian `struct seccomp_data`. */
function run(program: readonly BpfInstruction[], data: SeccompData): number {
  const bytes = Buffer.alloc(64)
  bytes.writeInt32LE(data.nr, 0)
  bytes.writeUInt32LE(data.arch, 4)
  ;(data.args ?? []).forEach((arg, index) => bytes.writeUInt32LE(arg >>> 0, 16 + 8 * index))
  let accumulator = 0
  for (let pc = 0; pc < program.length; pc++) {
    const { code, jt, jf, k } = program[pc] as BpfInstruction
    switch (code) {
      case BPF_LD_W_ABS:
        accumulator = bytes.readUInt32LE(k)
        break
      case BPF_ALU_AND_K:
        accumulator = (accumulator & k) >>> 0
        break
      case BPF_JEQ_K:
        pc += accumulator === k ? jt : jf
        break
      case BPF_JGE_K:
        pc += accumulator >= k ? jt : jf
        break
      case BPF_RET_K:
        return k
      default:
        throw new Error(`unknown opcode ${code}`)
    }
  }
  throw new Error('fell off the end of the program')
}

const arches: SeccompArch[] = ['x86_64', 'aarch64']

describe.each(arches)('the seccomp program for %s', (arch) => {
  const nr = SYSCALLS[arch]
  const cut = seccompProgram(arch, { networkAccess: false })
  const open = seccompProgram(arch, { networkAccess: true })
  const call = (program: BpfInstruction[], syscall: number, args: number[] = []) =>
    run(program, { nr: syscall, arch: AUDIT_ARCH[arch], args })

  it('checks the architecture first and kills a process calling with another ABI', () => {
    for (const program of [cut, open]) {
      expect(program[0]).toEqual({ code: BPF_LD_W_ABS, jt: 0, jf: 0, k: SECCOMP_DATA_ARCH })
      expect(program[1]).toMatchObject({ code: BPF_JEQ_K, jt: 0, k: AUDIT_ARCH[arch] })
      const onMismatch = program[2 + (program[1] as BpfInstruction).jf] as BpfInstruction
      expect(onMismatch).toEqual({ code: BPF_RET_K, jt: 0, jf: 0, k: SECCOMP_RET_KILL_PROCESS })
      // i386 socketcall from a 64-bit process on x86_64, arm32 on aarch64: another audit arch.
      expect(run(program, { nr: 102, arch: 0x40000003 })).toBe(SECCOMP_RET_KILL_PROCESS)
    }
  })

  it('is small, keeps every jump inside the program, and ends every path with a return', () => {
    for (const program of [cut, open]) {
      expect(program.length).toBeGreaterThan(8)
      expect(program.length).toBeLessThan(40)
      program.forEach((instruction, index) => {
        expect([BPF_LD_W_ABS, BPF_ALU_AND_K, BPF_JEQ_K, BPF_JGE_K, BPF_RET_K]).toContain(instruction.code)
        if (instruction.code === BPF_JEQ_K || instruction.code === BPF_JGE_K) {
          expect(index + 1 + Math.max(instruction.jt, instruction.jf)).toBeLessThan(program.length)
        } else {
          expect([instruction.jt, instruction.jf]).toEqual([0, 0])
        }
        if (instruction.code === BPF_LD_W_ABS) expect(instruction.k % 4).toBe(0)
      })
      expect(program.at(-1)?.code).toBe(BPF_RET_K)
    }
    expect(encodeSeccompProgram(cut)).toHaveLength(cut.length * 8)
    const bytes = encodeSeccompProgram(cut)
    expect([bytes.readUInt16LE(8), bytes.readUInt8(10), bytes.readUInt8(11), bytes.readUInt32LE(12)]).toEqual(
      [cut[1]?.code, cut[1]?.jt, cut[1]?.jf, cut[1]?.k],
    )
  })

  it('without network access refuses connect, IP sockets and datagram unix sockets with EPERM', () => {
    expect(call(cut, nr.connect)).toBe(SECCOMP_RET_EPERM)
    for (const domain of [AF_INET, AF_INET6, AF_NETLINK, AF_VSOCK]) {
      expect(call(cut, nr.socket, [domain, SOCK_STREAM])).toBe(SECCOMP_RET_EPERM)
      expect(call(cut, nr.socketpair, [domain, SOCK_STREAM])).toBe(SECCOMP_RET_EPERM)
    }
    expect(call(cut, nr.socket, [AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC])).toBe(SECCOMP_RET_EPERM)
    expect(call(cut, nr.socketpair, [AF_UNIX, SOCK_DGRAM])).toBe(SECCOMP_RET_EPERM)
    for (const denied of [nr.ptrace, nr.process_vm_readv, nr.process_vm_writev, nr.io_uring_setup]) {
      expect(call(cut, denied)).toBe(SECCOMP_RET_EPERM)
    }
  })

  it('without network access keeps unix stream socket pairs and every other syscall', () => {
    expect(call(cut, nr.socketpair, [AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC])).toBe(SECCOMP_RET_ALLOW)
    expect(call(cut, nr.socketpair, [AF_UNIX, SOCK_SEQPACKET])).toBe(SECCOMP_RET_ALLOW)
    expect(call(cut, nr.socket, [AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK])).toBe(SECCOMP_RET_ALLOW)
    for (let syscall = 0; syscall < 460; syscall++) {
      const expected = [
        nr.connect,
        nr.ptrace,
        nr.process_vm_readv,
        nr.process_vm_writev,
        nr.io_uring_setup,
        nr.io_uring_enter,
        nr.io_uring_register,
      ].includes(syscall)
        ? SECCOMP_RET_EPERM
        : SECCOMP_RET_ALLOW
      expect(call(cut, syscall, [AF_UNIX, SOCK_STREAM]), `syscall ${syscall}`).toBe(expected)
    }
  })

  it('with network access refuses only VM sockets and io_uring', () => {
    expect(call(open, nr.connect)).toBe(SECCOMP_RET_ALLOW)
    expect(call(open, nr.socket, [AF_INET, SOCK_STREAM])).toBe(SECCOMP_RET_ALLOW)
    expect(call(open, nr.socket, [AF_UNIX, SOCK_DGRAM])).toBe(SECCOMP_RET_ALLOW)
    expect(call(open, nr.ptrace)).toBe(SECCOMP_RET_ALLOW)
    expect(call(open, nr.socket, [AF_VSOCK, SOCK_STREAM])).toBe(SECCOMP_RET_EPERM)
    expect(call(open, nr.socketpair, [AF_VSOCK, SOCK_STREAM])).toBe(SECCOMP_RET_EPERM)
    expect(call(open, nr.io_uring_enter)).toBe(SECCOMP_RET_EPERM)
  })
})

describe('seccomp syscall numbers and architectures', () => {
  it('uses the kernel numbers of each architecture', () => {
    expect(SYSCALLS.x86_64).toMatchObject({ socket: 41, connect: 42, socketpair: 53, ptrace: 101 })
    expect(SYSCALLS.aarch64).toMatchObject({ socket: 198, socketpair: 199, connect: 203, ptrace: 117 })
    expect(AUDIT_ARCH).toEqual({ x86_64: 0xc000003e, aarch64: 0xc00000b7 })
  })

  it('refuses x32 calls on x86_64, whose numbers would otherwise slip past', () => {
    const program = seccompProgram('x86_64', { networkAccess: false })
    const x32Connect = X32_SYSCALL_BIT | SYSCALLS.x86_64.connect
    expect(run(program, { nr: x32Connect, arch: AUDIT_ARCH.x86_64 })).toBe(SECCOMP_RET_EPERM)
  })

  it('builds nothing for another architecture and says what stays open', () => {
    expect(seccompArch('x64', 'LE')).toBe('x86_64')
    expect(seccompArch('arm64', 'LE')).toBe('aarch64')
    expect(seccompArch('riscv64', 'LE')).toBeNull()
    expect(seccompArch('arm64', 'BE')).toBeNull()
    expect(seccompUnsupportedReason('x64', 'LE')).toBeNull()
    expect(seccompUnsupportedReason('riscv64', 'LE')).toMatch(/no seccomp filter for riscv64.*unix sockets/)
  })
})
