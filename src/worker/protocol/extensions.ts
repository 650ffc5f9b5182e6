/**
 * What a client asks about the workspace's extensions and capabilities: skills, hooks, plugins,
 * apps, MCP server status, collaboration modes, experimental features, permission profiles,
 * external agent config, rate limits. Runtime-free.
 */
import type { ClientRequestSpecs, NotificationSpecs } from './spec'

export const extensionRequests = {} as const satisfies ClientRequestSpecs
export const extensionNotifications = {} as const satisfies NotificationSpecs
