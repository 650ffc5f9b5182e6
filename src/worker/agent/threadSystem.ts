/**
 * The threads subsystem as one unit: the ThreadManager, the TurnController over it, and the
 * agent's tools. The core loads this module on the first thread or turn request (a dynamic
 * import), so a process that only answers `initialize` or config requests never parses the agent
 * loop, the rollout store or the model client: that keeps the cold start within its budget. The
 * tools (and the sandbox probe, a child process) load later still, on the first model request, so
 * resuming or reading a thread never pays for them.
 *
 * It is the composition root of threads/ and agent/, so it lives in agent/ (agent may import
 * threads, never the reverse). Nothing in threads/ may import it; server/ loads it.
 */
import type { AuthManager } from '../auth/authManager'
import { ThreadManager, type ThreadManagerOptions } from '../threads/threadManager'
import type { SandboxAvailability } from './sandbox/sandbox'
import type { ToolHost } from './tools'
import { TurnController, type TurnControllerOptions } from './turns'

export interface ThreadSystem {
  manager: ThreadManager
  turns: TurnController
  /** Releases the tools, if they were loaded. */
  disposeTools(): void
}

export interface ThreadSystemOptions extends ThreadManagerOptions {
  /** Replaces the built-in tools (tests). */
  tools?: ToolHost
  env: NodeJS.ProcessEnv
  turnLog: TurnControllerOptions['log']
  modelClientOptions?: TurnControllerOptions['modelClientOptions']
  /** Told once when commands cannot be sandboxed here (a `configWarning` for every client). */
  onNoSandbox?: (availability: SandboxAvailability) => void
  /** Told once when the sandbox works but with limits (no user namespace, no seccomp filter here). */
  onSandboxLimits?: (limits: string) => void
  /** The account: credentials for providers with `requires_openai_auth`. */
  auth?: AuthManager
  /** `originator` and `User-Agent` for every model request. */
  upstreamHeaders?: () => Record<string, string>
}

export function createThreadSystem(options: ThreadSystemOptions): ThreadSystem {
  const {
    tools,
    env,
    turnLog,
    modelClientOptions,
    onNoSandbox,
    onSandboxLimits,
    auth,
    upstreamHeaders,
    ...managerOptions
  } = options
  const manager = new ThreadManager(managerOptions)
  // A patch a crashed core left half-done is undone before any tool can read the project's files.
  const patchesRecovered = import('./patch/journal').then((m) =>
    m.recoverPatchJournals(options.home, options.log),
  )
  let loaded: Promise<ToolHost> | null = tools ? Promise.resolve(tools) : null
  let host: ToolHost | null = tools ?? null
  const turns: TurnController = new TurnController({
    threads: manager,
    analytics: options.analytics,
    // The tools need the controller (sub-agents start turns), so they are made after it.
    tools: () =>
      (loaded ??= Promise.all([import('./agentTools'), import('./sandbox/sandbox'), patchesRecovered]).then(
        ([{ createAgentTools }, { detectSandbox }]) => {
          void detectSandbox().then((availability) => {
            if (availability.kind === 'none') onNoSandbox?.(availability)
            else if (availability.limits) onSandboxLimits?.(availability.limits)
          })
          host = createAgentTools({
            threads: manager,
            turns,
            env,
            home: options.home,
            version: options.version,
          })
          return host
        },
      )),
    env,
    log: turnLog,
    ...(modelClientOptions ? { modelClientOptions } : {}),
    ...(auth ? { auth } : {}),
    ...(upstreamHeaders ? { upstreamHeaders } : {}),
  })
  return { manager, turns, disposeTools: () => host?.dispose?.() }
}
