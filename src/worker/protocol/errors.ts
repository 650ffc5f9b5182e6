/**
 * JSON-RPC error codes used on the wire, the RpcError class handlers throw, and the one place that
 * turns a zod failure into a message naming the field and what was expected. Runtime-free.
 */
import type { $ZodError } from 'zod/v4/core'
import type { ErrorObject } from './jsonrpc'

export const ErrorCode = {
  ParseError: -32700,
  /** codex uses -32600 for nearly everything: bad params, unknown methods, lifecycle and business rules. */
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  Internal: -32603,
  Overloaded: -32001,
} as const

export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message)
    this.name = 'RpcError'
  }

  toErrorObject(): ErrorObject {
    return this.data === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, data: this.data }
  }
}

export const invalidRequest = (message: string, data?: unknown): RpcError =>
  new RpcError(ErrorCode.InvalidRequest, message, data)

export const OVERLOADED_MESSAGE = 'Server overloaded; retry later.'
export const NOT_INITIALIZED_MESSAGE = 'Not initialized'
export const ALREADY_INITIALIZED_MESSAGE = 'Already initialized'

/** codex's overload error plus the machine-readable hint SDK retry helpers asked for (protocol.md §15.6). */
export const overloaded = (retryAfterMs: number): RpcError =>
  new RpcError(ErrorCode.Overloaded, OVERLOADED_MESSAGE, { retryAfterMs })

/** `<descriptor> requires experimentalApi capability`, e.g. `thread/start.dynamicTools`. */
export const experimentalRequired = (descriptor: string): RpcError =>
  invalidRequest(`${descriptor} requires experimentalApi capability`)

function fieldPath(path: readonly PropertyKey[]): string {
  let out = ''
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : out ? `.${String(key)}` : String(key)
  return out || 'params'
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number'
  return typeof value
}

/**
 * Readable, serde-like text for each issue: "missing field `clientInfo.name`",
 * "invalid type at `clientInfo.name`: expected string, received integer".
 */
export function formatZodError(error: Pick<$ZodError, 'issues'>): string {
  return error.issues
    .map((issue) => {
      const at = fieldPath(issue.path)
      switch (issue.code) {
        case 'invalid_type':
          if (issue.input === undefined) return `missing field \`${at}\``
          return `invalid type at \`${at}\`: expected ${issue.expected}, received ${describe(issue.input)}`
        case 'invalid_value':
          return `unknown variant \`${String(issue.input)}\` at \`${at}\`, expected one of ${issue.values
            .map((v) => `\`${String(v)}\``)
            .join(', ')}`
        case 'unrecognized_keys':
          return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `\`${k}\``).join(', ')} at \`${at}\``
        case 'invalid_union':
          return `invalid value at \`${at}\`: ${issue.message}`
        default:
          return `invalid value at \`${at}\`: ${issue.message}`
      }
    })
    .join('; ')
}
