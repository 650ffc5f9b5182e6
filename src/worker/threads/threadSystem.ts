/**
 * The threads subsystem as one unit: the ThreadManager, the TurnController over it, and the
 * agent's tools. The core loads this module on the first thread or turn request (a dynamic
 * import), so a process that only answers `initialize` or config requests never parses the agent
 * loop, the rollout store or the model client: that keeps the cold start within its budget.
 */
import { createAgentTools } from '../agent/agentTools'
import type { ToolHost } from '../agent/tools'
import { TurnController, type TurnControllerOptions } from '../agent/turns'
import { detectSandbox, type SandboxAvailability } from '../agent/sandbox/sandbox'
import { ThreadManager, type ThreadManagerOptions } from './threadManager'

export interface ThreadSystem {
  manager: ThreadManager
  turns: TurnController
  tools: ToolHost
}

export interface ThreadSystemOptions extends ThreadManagerOptions {
  /** Replaces the built-in tools (tests). */
  tools?: ToolHost
  env: NodeJS.ProcessEnv
  turnLog: TurnControllerOptions['log']
  modelClientOptions?: TurnControllerOptions['modelClientOptions']
  /** Told once when commands cannot be sandboxed here (a `configWarning` for every client). */
  onNoSandbox?: (availability: SandboxAvailability) => void
}

export function createThreadSystem(options: ThreadSystemOptions): ThreadSystem {
  const { tools, env, turnLog, modelClientOptions, onNoSandbox, ...managerOptions } = options
  const manager = new ThreadManager(managerOptions)
  // The tools need the controller (sub-agents start turns), the controller needs the tools.
  let host: ToolHost | undefined = tools
  const turns = new TurnController({
    threads: manager,
    analytics: options.analytics,
    tools: {
      specs: (thread, settings) => (host as ToolHost).specs(thread, settings),
      call: (call, services) => (host as ToolHost).call(call, services),
    },
    env,
    log: turnLog,
    ...(modelClientOptions ? { modelClientOptions } : {}),
  })
  host ??= createAgentTools({ threads: manager, turns, env, version: options.version })
  if (!tools && onNoSandbox) {
    void detectSandbox().then((availability) => {
      if (availability.kind === 'none') onNoSandbox(availability)
    })
  }
  return { manager, turns, tools: host }
}
