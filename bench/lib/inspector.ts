/**
 * A bench-only client of a process started with `--inspect=127.0.0.1:0`: heap usage and
 * process.memoryUsage() read through the inspector (bench/turnMemory.ts's TURN_MEMORY_HEAP probe).
 * Never used on a product path.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process'
import { WebSocket } from 'ws'
import { stderrOf, withTimeout } from './processes'
import { round } from './stats'

const MiB = 1024 * 1024

/** The inspector of a codex-desk started with `--inspect=127.0.0.1:0` (bench-only). */
export class Inspector {
  private nextId = 1
  private readonly waiting = new Map<number, (result: unknown) => void>()
  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const message = JSON.parse(String(data)) as { id?: number; result?: unknown }
      if (message.id !== undefined) this.waiting.get(message.id)?.(message.result)
    })
  }

  static async attach(child: ChildProcessWithoutNullStreams): Promise<Inspector> {
    const deadline = Date.now() + 10_000
    let match: RegExpExecArray | null
    while (!(match = /Debugger listening on (ws:\/\/\S+)/.exec(stderrOf(child)))) {
      if (Date.now() > deadline) throw new Error(`no inspector URL: ${stderrOf(child)}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const ws = new WebSocket(match[1] as string)
    await withTimeout(
      new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject)),
      5_000,
      'the inspector',
    )
    return new Inspector(ws)
  }

  call(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = this.nextId++
    const answered = new Promise<unknown>((resolve) => this.waiting.set(id, resolve))
    this.ws.send(JSON.stringify({ id, method, params }))
    return withTimeout(answered, 30_000, `inspector ${method}`).finally(() => this.waiting.delete(id))
  }

  async heapUsedMiB(): Promise<number> {
    const result = (await this.call('Runtime.getHeapUsage')) as { usedSize: number }
    return result.usedSize / MiB
  }

  /** process.memoryUsage() in MiB (heapTotal: committed V8 heap; external: Buffers and the like). */
  async memoryUsage(): Promise<Record<string, number>> {
    const { result } = (await this.call('Runtime.evaluate', {
      expression: 'JSON.stringify(process.memoryUsage())',
      returnByValue: true,
    })) as { result: { value: string } }
    const usage = JSON.parse(result.value) as Record<string, number>
    return Object.fromEntries(Object.entries(usage).map(([k, v]) => [k, round(v / MiB)]))
  }

  close(): void {
    this.ws.terminate()
  }
}
