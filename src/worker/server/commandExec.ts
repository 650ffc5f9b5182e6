/**
 * `command/exec` and its follow-ups: runs a client's command outside any thread and answers when it
 * exits, streaming `command/exec/outputDelta` (base64) to that connection first when asked. Process
 * ids are scoped to the connection that started them; a closing connection kills its commands, as
 * codex does.
 *
 * It must never let a command outlive its connection or the core, and never deliver one
 * connection's output to another.
 */
import type { CommandExecOutcome, CommandExecProcess, OutputStreamName } from '../agent/commandExec'
import type { commandExecRequests } from '../protocol/commandExec'
import { ErrorCode, invalidRequest, RpcError } from '../protocol/errors'
import type { ConnectionId } from '../transport/connection'
import type { AppServer } from './appServer'
import type { Handler } from './context'

type CommandExecHandlers = { [M in keyof typeof commandExecRequests]: Handler<M> }

interface Running {
  process: CommandExecProcess
  streamStdin: boolean
}

const invalidParams = (message: string): RpcError => new RpcError(ErrorCode.InvalidParams, message)

/** The process code loads on the first command, off the cold-start path. */
const loadAgent = () => Promise.all([import('../agent/commandExec'), import('../agent/commandExecSetup')])

const key = (connectionId: ConnectionId, processId: string): string => `${connectionId}\u0000${processId}`

export class CommandExecManager {
  /** Client-named processes, by connection and process id. */
  private readonly named = new Map<string, Running>()
  /** Every running process by connection, named or not, for the close-time kill. */
  private readonly byConnection = new Map<ConnectionId, Set<CommandExecProcess>>()

  /** Commands run in process groups of their own: a core that exits without closing kills them too. */
  private readonly onExit = (): void => this.dispose()
  private exitHooked = false

  constructor(private readonly core: AppServer) {}

  handlers(): CommandExecHandlers {
    return {
      'command/exec': (params, ctx) => this.exec(params, ctx.connection.id),
      'command/exec/write': async (params, ctx) => {
        if (params.deltaBase64 == null && !params.closeStdin)
          throw invalidParams('command/exec/write requires deltaBase64 or closeStdin')
        const bytes = params.deltaBase64 != null ? decodeBase64(params.deltaBase64) : Buffer.alloc(0)
        const running = this.find(ctx.connection.id, params.processId)
        if (!running.streamStdin) throw invalidRequest('stdin streaming is not enabled for this command/exec')
        if (bytes.length > 0 && !(await running.process.write(bytes)))
          throw invalidRequest('stdin is already closed')
        if (params.closeStdin) running.process.closeStdin()
        return {}
      },
      'command/exec/terminate': (params, ctx) => {
        this.find(ctx.connection.id, params.processId).process.terminate()
        return {}
      },
      'command/exec/resize': async (params, ctx) => {
        const [, { checkedSize }] = await loadAgent()
        const size = checkedSize(params.size)
        const running = this.find(ctx.connection.id, params.processId)
        try {
          await running.process.resize(size)
        } catch (error) {
          throw invalidRequest(`failed to resize PTY: ${(error as Error).message}`)
        }
        return {}
      },
    }
  }

  /** Kills every command the connection started. */
  connectionClosed(connectionId: ConnectionId): void {
    for (const process of this.byConnection.get(connectionId) ?? []) process.terminate()
    this.byConnection.delete(connectionId)
    for (const name of [...this.named.keys()])
      if (name.startsWith(`${connectionId}\u0000`)) this.named.delete(name)
  }

  /** Kills every command (core shutdown). */
  dispose(): void {
    for (const connectionId of [...this.byConnection.keys()]) this.connectionClosed(connectionId)
    if (this.exitHooked) process.removeListener('exit', this.onExit)
    this.exitHooked = false
  }

  private find(connectionId: ConnectionId, processId: string): Running {
    const running = this.named.get(key(connectionId, processId))
    if (!running) throw invalidRequest(`no active command/exec for process id ${JSON.stringify(processId)}`)
    return running
  }

  private async exec(
    params: Parameters<CommandExecHandlers['command/exec']>[0],
    connectionId: ConnectionId,
  ): Promise<CommandExecOutcome> {
    const { core } = this
    const [{ CommandExecProcess }, { planCommandExec }] = await loadAgent()
    const plan = await planCommandExec(params, {
      config: core.config.current.effective,
      env: core.options.env ?? process.env,
      serverCwd: process.cwd(),
    })
    const processId = plan.processId
    const name = processId !== null ? key(connectionId, processId) : null
    if (name !== null && this.named.has(name))
      throw invalidRequest(`duplicate active command/exec process id: ${JSON.stringify(processId)}`)
    const onOutput =
      plan.streamOutput && processId !== null
        ? async (stream: OutputStreamName, bytes: Buffer, capReached: boolean) => {
            await core.router.notify(connectionId, 'command/exec/outputDelta', {
              processId,
              stream,
              deltaBase64: bytes.toString('base64'),
              capReached,
            })
          }
        : undefined
    let started: CommandExecProcess
    try {
      started = await CommandExecProcess.start({ ...plan.spec, ...(onOutput ? { onOutput } : {}) })
    } catch (error) {
      throw new RpcError(ErrorCode.Internal, `failed to spawn command: ${spawnReason(error)}`)
    }
    if (name !== null) {
      // A second request with the same id may have started while this one spawned.
      if (this.named.has(name)) {
        started.terminate()
        throw invalidRequest(`duplicate active command/exec process id: ${JSON.stringify(processId)}`)
      }
      this.named.set(name, { process: started, streamStdin: plan.streamStdin })
    }
    if (!this.exitHooked) {
      process.once('exit', this.onExit)
      this.exitHooked = true
    }
    let set = this.byConnection.get(connectionId)
    if (!set) this.byConnection.set(connectionId, (set = new Set()))
    set.add(started)
    try {
      return await started.done
    } finally {
      set.delete(started)
      if (set.size === 0 && this.byConnection.get(connectionId) === set)
        this.byConnection.delete(connectionId)
      if (name !== null && this.named.get(name)?.process === started) this.named.delete(name)
    }
  }
}

function decodeBase64(text: string): Buffer {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 === 1)
    throw invalidParams('invalid deltaBase64: not valid base64')
  return Buffer.from(text, 'base64')
}

function spawnReason(error: unknown): string {
  const errno = error as NodeJS.ErrnoException
  if (errno.code === 'ENOENT') return 'No such file or directory (os error 2)'
  if (errno.code === 'EACCES') return 'Permission denied (os error 13)'
  return errno.message ?? String(error)
}
