/**
 * The agent's built-in tool set: `shell_command`, `apply_patch` and the sub-agent tools, then the
 * thread's dynamic tools. Built once per threads subsystem.
 */
import type { TurnController } from './turns'
import type { ThreadManager } from '../threads/threadManager'
import { dynamicToolHost } from './dynamicTools'
import { createPatchTool } from './patchTool'
import { createPlanTool } from './planTool'
import { createShellTool } from './shellTool'
import { SubAgents } from './subAgents'
import { ToolRouter, type ToolHost } from './tools'
import { createViewImageTool } from './viewImageTool'

export interface AgentToolsOptions {
  threads: ThreadManager
  turns: TurnController
  env: NodeJS.ProcessEnv
  /** The core's home (its `rules/` hold the exec-policy rules). */
  home: string
  version: string
}

export function createAgentTools(options: AgentToolsOptions): ToolHost {
  const subAgents = new SubAgents(options.threads, options.turns, options.version)
  const router = new ToolRouter(
    [
      createShellTool({ env: options.env, home: options.home }),
      createPatchTool({ home: options.home }),
      createPlanTool(),
      createViewImageTool(),
      ...subAgents.tools(),
    ],
    dynamicToolHost,
  )
  return {
    specs: (thread, settings) => router.specs(thread, settings),
    call: (call, services) => router.call(call, services),
    dispose: () => subAgents.dispose(),
  }
}
