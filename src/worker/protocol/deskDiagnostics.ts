/**
 * codex-desk's own addition (not in codex 0.169.0): the CURRENT set of config problems and machine
 * notices, for a client that shows them live. codex sends `configWarning` once per problem after
 * `initialize` and nothing when the file is fixed, so a codex client cannot tell that a problem went
 * away; these two methods let the desk UI ask for the whole set and hear each change.
 *
 * A connection hears `desk/configWarnings/changed` only after it called `desk/configWarnings/read`:
 * codex clients never call it, so they see exactly what codex sends. Runtime-free.
 */
import * as z from 'zod/mini'
import { ConfigWarningNotification } from './notifications'
import type { ClientRequestSpecs, NotificationSpecs } from './spec'

export const DeskConfigWarnings = z.object({
  /** Problems in the config files and flags as they are now (the core's last load). */
  problems: z.array(ConfigWarningNotification),
  /** Facts about this machine, such as no sandbox to contain commands: not config problems. */
  notices: z.array(ConfigWarningNotification),
})
export type DeskConfigWarnings = z.infer<typeof DeskConfigWarnings>

export const deskDiagnosticsRequests = {
  'desk/configWarnings/read': { params: null, result: DeskConfigWarnings, experimental: true },
} as const satisfies ClientRequestSpecs

export const deskDiagnosticsNotifications = {
  'desk/configWarnings/changed': DeskConfigWarnings,
} as const satisfies NotificationSpecs
