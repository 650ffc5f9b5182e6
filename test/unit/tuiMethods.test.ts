/**
 * What the real Codex TUI (`codex --remote`, 0.169.0) uses in an ordinary session, as recorded against
 * real `codex app-server` 0.169.0: startup, a turn, /status, /model, a second turn, a command approval,
 * /new, /resume, /quit. These lists are facts of codex 0.169.0, read off that recording; codex-desk must
 * serve every request in them (the TUI stops at startup when `model/list` fails, for one).
 */
import { describe, expect, it } from 'vitest'
import { status } from '../../scripts/protocolCoverage'
import {
  clientNotifications,
  clientRequests,
  serverNotifications,
  serverRequests,
} from '../../src/worker/protocol/registry'
import { codexMethods } from '../support/codexSchema'

/** Requests the TUI sent, in the order it first sent each. */
const TUI_REQUESTS = [
  'initialize',
  'account/read',
  'model/list',
  'hooks/list',
  'account/bedrock/checkGovCloudRequirements',
  'config/read',
  'configRequirements/read',
  'collaborationMode/list',
  'thread/start',
  'thread/list',
  'skills/list',
  'plugin/installed',
  'thread/loaded/list',
  'thread/read',
  'thread/turns/list',
  'turn/start',
  'thread/readState/update',
  'thread/unsubscribe',
  'thread/settings/update',
  'config/batchWrite',
  'thread/resume',
  'thread/items/list',
  'thread/goal/get',
  'thread/backgroundTerminals/list',
] as const

const TUI_CLIENT_NOTIFICATIONS = ['initialized'] as const

/** Requests codex sent the TUI in that session. */
const TUI_SERVER_REQUESTS = ['item/commandExecution/requestApproval'] as const

/** Notifications codex sent the TUI in that session. */
const TUI_SERVER_NOTIFICATIONS = [
  'configWarning',
  'remoteControl/status/changed',
  'thread/started',
  'thread/settings/updated',
  'warning',
  'thread/status/changed',
  'turn/started',
  'item/started',
  'item/completed',
  'item/agentMessage/delta',
  'thread/tokenUsage/updated',
  'account/rateLimits/updated',
  'thread/readState/changed',
  'turn/completed',
  'serverRequest/resolved',
  'thread/goal/cleared',
] as const

/** Notifications the TUI can do without, because codex-desk has nothing they would report. */
const NOT_SENT_BY_CODEX_DESK: Record<string, string> = {
  'remoteControl/status/changed': 'codex-desk has no remote control service',
  'account/rateLimits/updated': 'not sent by codex-desk yet; the TUI then shows its limits as not available',
}

describe('the methods the Codex TUI uses in an ordinary session', () => {
  it('are all methods of codex 0.169.0', () => {
    const requests = new Set(codexMethods('ClientRequest'))
    expect(TUI_REQUESTS.filter((m) => !requests.has(m))).toEqual([])
    const notifications = new Set(codexMethods('ServerNotification'))
    expect(TUI_SERVER_NOTIFICATIONS.filter((m) => !notifications.has(m))).toEqual([])
    const serverSide = new Set(codexMethods('ServerRequest'))
    expect(TUI_SERVER_REQUESTS.filter((m) => !serverSide.has(m))).toEqual([])
  })

  // The expected set is EMPTY: every request the TUI sends must be in codex-desk's registry AND have a
  // handler. It fails while any of them is missing (the model, extension and thread-history handlers
  // were landing in parallel when this was written); the failure lists the methods still unserved.
  it('are each served by codex-desk: in the registry and with a handler', () => {
    const unserved = TUI_REQUESTS.map((m) => [m, status('client request', clientRequests, m)]).filter(
      ([, s]) => s !== 'yes',
    )
    expect(unserved).toEqual([])
    expect(TUI_CLIENT_NOTIFICATIONS.filter((m) => !Object.hasOwn(clientNotifications, m))).toEqual([])
  })

  it('include no server request or notification codex-desk cannot send, beyond the documented ones', () => {
    expect(TUI_SERVER_REQUESTS.filter((m) => !Object.hasOwn(serverRequests, m))).toEqual([])
    const missing = TUI_SERVER_NOTIFICATIONS.filter(
      (m) => !Object.hasOwn(serverNotifications, m) && !(m in NOT_SENT_BY_CODEX_DESK),
    )
    expect(missing).toEqual([])
  })
})
