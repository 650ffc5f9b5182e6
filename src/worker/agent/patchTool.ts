/**
 * The `apply_patch` tool: parses codex's patch format, checks every hunk against the files, asks
 * the user when the policy says so, then writes all files of the patch or none. Clients see a
 * `fileChange` item with each file's diff and, after a change, `turn/diff/updated` with the turn's
 * whole diff. Problems go back to the model as text it can act on.
 *
 * It must never write part of a patch, and never write a file the policy and the user did not allow.
 */
import type { FileChangeItem } from '../protocol/items'
import { planPatch as planPatchApproval } from './approvalPolicy'
import { resolveCodexDeskHome } from '../home'
import { PatchApplyError, planPatch, summarizeApplied, type PlannedChange } from './patch/apply'
import { commitPatch } from './patch/commit'
import { recoveredHome } from './patch/journal'
import { parsePatch, PatchParseError } from './patch/parse'
import { TurnDiffTracker } from './patch/turnDiff'
import { APPLY_PATCH_TOOL_NAME, applyPatchToolSpec, patchTextFromArguments } from './patch/spec'
import { isPathWritable } from './sandbox/sandbox'
import { requestDecision, type Tool, type ToolCall, type ToolOutput, type ToolServices } from './tools'

export interface PatchToolOptions {
  /** The core's home, which holds the patch journal (patch/journal.ts). */
  home?: string
}

export function createPatchTool(options: PatchToolOptions = {}): Tool {
  // Without a home given, the one whose journals this process recovered (agent/threadSystem.ts).
  const home = (): string => options.home ?? recoveredHome() ?? resolveCodexDeskHome()
  return {
    name: APPLY_PATCH_TOOL_NAME,
    spec: () => applyPatchToolSpec,
    call: (call, services) => applyPatch(call, services, home()),
  }
}

/** Every path a change writes: the file, and where it moves to. */
function writtenPaths(changes: readonly PlannedChange[]): string[] {
  return changes.flatMap((change) =>
    change.kind.type === 'update' && change.kind.move_path
      ? [change.path, change.kind.move_path]
      : [change.path],
  )
}

async function applyPatch(call: ToolCall, services: ToolServices, home: string): Promise<ToolOutput> {
  const { settings, thread } = services
  const cwd = settings.cwd
  let changes: PlannedChange[]
  try {
    changes = await planPatch(parsePatch(patchTextFromArguments(call.arguments)), cwd)
  } catch (error) {
    if (error instanceof PatchParseError || error instanceof PatchApplyError) return error.message
    throw error
  }
  const paths = writtenPaths(changes)
  const plan = planPatchApproval({
    mode: settings.approvalMode,
    policy: settings.sandboxPolicy,
    allWritable: paths.every((path) => isPathWritable(path, settings.sandboxPolicy, cwd)),
    approvedForSession: paths.every((path) => thread.sessionApprovals.paths.has(path)),
  })
  if (plan.kind === 'reject') return plan.message

  const item: FileChangeItem = {
    type: 'fileChange',
    id: call.callId,
    changes: changes.map((change) => ({ path: change.path, kind: change.kind, diff: change.diff })),
    status: 'inProgress',
  }
  await services.startItem(item)
  if (plan.kind === 'ask') {
    const decision = await requestDecision(services, 'item/fileChange/requestApproval', {
      threadId: services.threadId,
      turnId: services.turnId,
      itemId: item.id,
      startedAtMs: item.startedAtMs ?? Date.now(),
      // Absent rather than null, as codex sends it; codex never proposes a root to grant.
      ...(plan.reason !== null ? { reason: plan.reason } : {}),
    })
    if (decision === 'decline' || decision === 'cancel') {
      await services.completeItem({ ...item, status: 'declined' })
      if (decision === 'cancel') {
        services.cancelTurn()
        throw services.signal.reason ?? new Error('turn cancelled by the user')
      }
      return 'patch rejected by user'
    }
    if (decision === 'acceptForSession') for (const path of paths) thread.sessionApprovals.paths.add(path)
  }

  const tracker = services.turnScoped(TurnDiffTracker, () => new TurnDiffTracker(cwd))
  tracker.track(changes)
  try {
    await commitPatch(changes, { home })
  } catch (error) {
    if (!(error instanceof PatchApplyError)) throw error
    await services.completeItem({ ...item, status: 'failed' })
    return error.message
  }
  await services.completeItem({ ...item, status: 'completed' })
  void services.publish('turn/diff/updated', {
    threadId: services.threadId,
    turnId: services.turnId,
    diff: await tracker.diff(),
  })
  return summarizeApplied(changes, cwd)
}
