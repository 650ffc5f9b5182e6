/**
 * The `<permissions instructions>` developer message: the thread's sandbox mode, network access,
 * approval policy and writable roots, told to the model in codex-desk's words (codex 0.169 sends a
 * message under the same tag with the same facts). It must describe what the tools enforce, never
 * more or less.
 */
import type { ApprovalMode } from '../approvalPolicy'
import type { SandboxPolicy } from '../../protocol/thread'

const TAG = 'permissions instructions'

function sandboxLine(policy: SandboxPolicy): string {
  const network = (on: boolean) => (on ? 'Network access is enabled.' : 'Network access is restricted.')
  switch (policy.type) {
    case 'readOnly':
      return `\`sandbox_mode\` is \`read-only\`: commands may read files but not change any. ${network(policy.networkAccess === true)}`
    case 'workspaceWrite':
      return `\`sandbox_mode\` is \`workspace-write\`: commands may read files and change files inside the working folder and the writable roots; changing anything else needs approval. ${network(policy.networkAccess === true)}`
    case 'dangerFullAccess':
      return '`sandbox_mode` is `danger-full-access`: there is no filesystem sandbox; commands may read and change any file. Network access is enabled.'
    default:
      return 'Commands run in a sandbox the host provides outside codex-desk; its limits are not known here.'
  }
}

function approvalLines(mode: ApprovalMode, sandboxed: boolean): string[] {
  switch (mode) {
    case 'never':
      return [
        'Approval policy is `never`: nobody can be asked. Do not set `sandbox_permissions`; a command that needs more than the sandbox gives fails, so work within it and report what you could not do.',
      ]
    case 'untrusted':
      return [
        'Approval policy is `untrusted`: only commands known to be read-only and safe run without asking; the user approves every other command before it runs.',
      ]
    case 'on-failure':
      return [
        'Approval policy is `on-failure`: commands run in the sandbox first; when one fails because of it, the user is asked whether to run it without the sandbox.',
      ]
    default:
      return sandboxed
        ? [
            'Approval policy is `on-request`: commands run in the sandbox. When a command needs more (writing outside the writable roots, the network, a program that cannot run sandboxed) run it with `sandbox_permissions: "require_escalated"` and a one-sentence `justification` the user will read; the user decides. Do not ask in chat first.',
            'A command made of several parts (joined by `|`, `&&`, `||`, `;`) is checked part by part. When you escalate, you may also propose a `prefix_rule` (the leading words of the command, such as `["npm", "test"]`) that the user can approve for the rest of the session; keep it narrow, and never propose one for destructive commands or interpreters such as `python`.',
          ]
        : ['Approval policy is `on-request`: ask for approval only when a command really needs it.']
  }
}

/** The message text for a thread's settings; `roots` are the absolute writable roots (sandbox.ts). */
export function permissionsInstructions(
  policy: SandboxPolicy,
  mode: ApprovalMode,
  roots: readonly string[],
): string {
  const lines = [
    `<${TAG}>`,
    'The sandbox decides which files commands may read or change. ' + sandboxLine(policy),
    ...approvalLines(mode, policy.type === 'workspaceWrite' || policy.type === 'readOnly'),
  ]
  if (policy.type === 'workspaceWrite' && roots.length > 0) {
    lines.push(
      `The writable roots are ${[...roots]
        .sort()
        .map((root) => `\`${root}\``)
        .join(', ')}.`,
    )
  }
  lines.push(`</${TAG}>`)
  return lines.join('\n')
}
