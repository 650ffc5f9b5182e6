/**
 * Paginated thread history and per-thread state: `thread/turns/list`, `thread/items/list`,
 * `thread/readState/update`, `thread/goal/*`, `thread/backgroundTerminals/list`. Runtime-free.
 */
import type { ClientRequestSpecs, NotificationSpecs } from './spec'

export const historyRequests = {} as const satisfies ClientRequestSpecs
export const historyNotifications = {} as const satisfies NotificationSpecs
