/**
 * The threads subsystem as one unit: the ThreadManager and the TurnController over it. The core
 * loads this module on the first thread or turn request (a dynamic import), so a process that only
 * answers `initialize` or config requests never parses the agent loop, the rollout store or the
 * model client: that keeps the cold start within its budget.
 */
import type { ToolHost } from '../agent/tools'
import { TurnController, type TurnControllerOptions } from '../agent/turns'
import { ThreadManager, type ThreadManagerOptions } from './threadManager'

export interface ThreadSystem {
  manager: ThreadManager
  turns: TurnController
}

export interface ThreadSystemOptions extends ThreadManagerOptions {
  tools: ToolHost
  env: NodeJS.ProcessEnv
  turnLog: TurnControllerOptions['log']
  modelClientOptions?: TurnControllerOptions['modelClientOptions']
}

export function createThreadSystem(options: ThreadSystemOptions): ThreadSystem {
  const { tools, env, turnLog, modelClientOptions, ...managerOptions } = options
  const manager = new ThreadManager(managerOptions)
  const turns = new TurnController({
    threads: manager,
    analytics: options.analytics,
    tools,
    env,
    log: turnLog,
    ...(modelClientOptions ? { modelClientOptions } : {}),
  })
  return { manager, turns }
}
