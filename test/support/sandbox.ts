/**
 * Whether the cores these tests spawn can sandbox model commands, for tests that prove the sandbox
 * stops something (a write outside the workspace, a connection). It decides exactly as the core does
 * (`detectSandbox`: `CODEX_DESK_SANDBOX=none`, `CODEX_DESK_BWRAP`, then a probe that bubblewrap can
 * create its namespaces), in the test process whose environment every spawned core inherits.
 *
 * It must never report a sandbox the core would not use, and never change the environment: a test
 * that skips here skips with the reason a user would read, and runs unchanged where the sandbox is.
 */
import { detectSandbox } from '../../src/worker/agent/sandbox/sandbox'

/** Null when model commands run sandboxed here; else why not, as a skip note. */
export async function sandboxMissing(): Promise<string | null> {
  const availability = await detectSandbox()
  if (availability.kind !== 'none') return null
  return `needs a sandbox for model commands, and there is none here: ${availability.reason ?? 'unknown reason'}`
}
