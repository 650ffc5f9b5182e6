/**
 * MCP server methods in codex 0.169.0's shapes (schema/v2 McpServerStatus*, McpServerToolCall*,
 * McpResourceRead*, ListMcpServerStatus*, McpServerOauthLogin*, McpServerStatusUpdated*,
 * McpToolCallProgress*, McpServerElicitationRequest*): the requests a client sends, the notifications
 * the shared MCP runtime sends, and the approval request an MCP tool call makes. What an MCP server
 * says (tools, resources, contents) passes through as it came: those fields are loose on purpose.
 * Runtime-free: no node: imports.
 */
import * as z from 'zod/mini'
import type { ClientRequestSpec, ServerRequestSpec } from './spec'

const nullableString = z.nullable(z.string())
const paging = {
  cursor: z.nullish(z.string()),
  limit: z.nullish(z.number()),
}

export const McpServerStatusDetail = z.enum(['full', 'toolsAndAuthOnly'])
export const McpAuthStatus = z.enum(['unknown', 'unsupported', 'notLoggedIn', 'bearerToken', 'oAuth'])
export type McpAuthStatus = z.infer<typeof McpAuthStatus>
export const McpServerConnectionStatus = z.enum([
  'notStarted',
  'starting',
  'connected',
  'authenticationRequired',
  'failed',
  'cancelled',
  'disabled',
])
export type McpServerConnectionStatus = z.infer<typeof McpServerConnectionStatus>

/** An MCP `Tool`, `Resource` or `ResourceTemplate` as the server described it. */
const McpObject = z.looseObject({})

export const ListMcpServerStatusParams = z.object({
  ...paging,
  detail: z.nullish(McpServerStatusDetail),
  serverName: z.nullish(z.string()),
  threadId: z.nullish(z.string()),
})
export const McpServerStatus = z.object({
  name: z.string(),
  runtimeStatus: z.nullable(McpServerConnectionStatus),
  pluginId: nullableString,
  httpOrigin: nullableString,
  serverInfo: z.nullable(McpObject),
  serverCapabilities: z.unknown(),
  toolListMeta: z.unknown(),
  tools: z.record(z.string(), McpObject),
  toolsError: nullableString,
  resources: z.array(McpObject),
  resourceTemplates: z.array(McpObject),
  authStatus: McpAuthStatus,
})
export type McpServerStatus = z.infer<typeof McpServerStatus>
export const ListMcpServerStatusResponse = z.object({
  data: z.array(McpServerStatus),
  nextCursor: nullableString,
})

export const McpResourceReadParams = z.object({
  server: z.string(),
  uri: z.string(),
  threadId: z.nullish(z.string()),
  connectorId: z.nullish(z.string()),
  originCallId: z.nullish(z.string()),
  target: z.nullish(z.unknown()),
  _meta: z.nullish(z.record(z.string(), z.unknown())),
})
export const McpResourceReadResponse = z.object({
  contents: z.array(McpObject),
  originCallId: nullableString,
})

export const McpServerToolCallParams = z.object({
  threadId: z.string(),
  server: z.string(),
  tool: z.string(),
  arguments: z.optional(z.unknown()),
  _meta: z.optional(z.unknown()),
})
export const McpServerToolCallResponse = z.object({
  content: z.array(z.unknown()),
  structuredContent: z.optional(z.unknown()),
  isError: z.optional(z.nullable(z.boolean())),
  _meta: z.optional(z.unknown()),
})

export const McpServerRefreshResponse = z.object({})

export const McpServerOauthLoginParams = z.object({
  name: z.string(),
  scopes: z.nullish(z.array(z.string())),
  timeoutSecs: z.nullish(z.number()),
  threadId: z.nullish(z.string()),
  clientRegistration: z.nullish(z.enum(['auto', 'cimd', 'dcr'])),
})
export const McpServerOauthLoginResponse = z.object({
  authorizationUrl: z.string(),
  loginId: z.optional(nullableString),
})

export const McpServerStartupState = z.enum(['starting', 'ready', 'failed', 'cancelled'])
export type McpServerStartupState = z.infer<typeof McpServerStartupState>
export const McpServerStatusUpdatedNotification = z.object({
  name: z.string(),
  status: McpServerStartupState,
  error: nullableString,
  failureReason: z.nullable(z.enum(['reauthenticationRequired'])),
  threadId: nullableString,
})

export const McpToolCallProgressNotification = z.object({
  threadId: z.string(),
  turnId: z.string(),
  itemId: z.string(),
  message: z.string(),
})

/** The approval an MCP tool call asks for (codex's form elicitation with `codex_approval_kind`). */
export const McpServerElicitationRequestParams = z.object({
  threadId: z.string(),
  turnId: nullableString,
  serverName: z.string(),
  mode: z.literal('form'),
  message: z.string(),
  requestedSchema: z.unknown(),
  _meta: z.unknown(),
})
export const McpServerElicitationRequestResponse = z.looseObject({
  action: z.enum(['accept', 'decline', 'cancel']),
  content: z.optional(z.unknown()),
  _meta: z.optional(z.unknown()),
})

export const mcpRequests = {
  'mcpServerStatus/list': { params: ListMcpServerStatusParams, result: ListMcpServerStatusResponse },
  'mcpServer/resource/read': { params: McpResourceReadParams, result: McpResourceReadResponse },
  'mcpServer/tool/call': { params: McpServerToolCallParams, result: McpServerToolCallResponse },
  'config/mcpServer/reload': { params: null, result: McpServerRefreshResponse },
  'mcpServer/oauth/login': { params: McpServerOauthLoginParams, result: McpServerOauthLoginResponse },
} as const satisfies Record<string, ClientRequestSpec>

export const mcpNotifications = {
  'mcpServer/startupStatus/updated': McpServerStatusUpdatedNotification,
  'item/mcpToolCall/progress': McpToolCallProgressNotification,
} as const

export const mcpServerRequests = {
  'mcpServer/elicitation/request': {
    params: McpServerElicitationRequestParams,
    response: McpServerElicitationRequestResponse,
  },
} as const satisfies Record<string, ServerRequestSpec>
