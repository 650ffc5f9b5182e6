/**
 * Model catalog shapes: `model/list`, `modelProvider/capabilities/read`. Runtime-free.
 */
import type { ClientRequestSpecs, NotificationSpecs } from './spec'

export const modelRequests = {} as const satisfies ClientRequestSpecs
export const modelNotifications = {} as const satisfies NotificationSpecs
