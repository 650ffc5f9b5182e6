/**
 * Validation of `thread/start`'s `dynamicTools` param (protocol.md §7): codex's rules and messages,
 * any failure rejecting the whole request with -32600. It returns the specs the thread stores (its
 * session meta), namespaced tools flattened. The threads layer validates on thread/start; calling the
 * tools is agent/dynamicTools.ts' job.
 *
 * Pure checks over the param: it must never import agent/ or server/, nor do I/O.
 */
import * as z from 'zod/mini'
import { invalidRequest } from '../protocol/errors'
import type { DynamicToolSpec } from '../protocol/tools'

const NAME_PATTERN = /^[a-zA-Z0-9_-]+$/
const MAX_NAME_LENGTH = 128

const FunctionSpec = z.looseObject({
  type: z.optional(z.literal('function')),
  name: z.string(),
  description: z.optional(z.string()),
  inputSchema: z.optional(z.unknown()),
  deferLoading: z.nullish(z.boolean()),
})
const NamespaceSpec = z.looseObject({
  type: z.literal('namespace'),
  name: z.string(),
  description: z.optional(z.string()),
  tools: z.array(FunctionSpec),
})

/**
 * Validates `thread/start.dynamicTools` (codex's rules; any failure rejects the whole request with
 * -32600) and returns the specs to store, namespaced tools flattened.
 */
export function validateDynamicTools(raw: readonly unknown[]): DynamicToolSpec[] {
  const out: DynamicToolSpec[] = []
  const seen = new Set<string>()
  const add = (spec: z.infer<typeof FunctionSpec>, namespace: string | null) => {
    checkName(spec.name)
    if (seen.has(spec.name)) throw invalidRequest(`duplicate dynamic tool name: ${spec.name}`)
    seen.add(spec.name)
    if (spec.deferLoading && namespace === null) {
      throw invalidRequest(`deferred dynamic tool must include a namespace: ${spec.name}`)
    }
    const schema = spec.inputSchema ?? { type: 'object', properties: {} }
    const problem = schemaProblem(schema)
    if (problem)
      throw invalidRequest(`dynamic tool input schema is not supported for ${spec.name}: ${problem}`)
    out.push({
      namespace,
      name: spec.name,
      description: spec.description ?? '',
      inputSchema: schema,
      deferLoading: spec.deferLoading ?? false,
    })
  }
  for (const entry of raw) {
    const type = (entry as { type?: unknown } | null)?.type
    if (type === 'namespace') {
      const parsed = NamespaceSpec.safeParse(entry)
      if (!parsed.success) throw invalidRequest(`invalid dynamic tool: ${describe(entry)}`)
      checkName(parsed.data.name)
      for (const tool of parsed.data.tools) add(tool, parsed.data.name)
      continue
    }
    const parsed = FunctionSpec.safeParse(entry)
    if (!parsed.success) throw invalidRequest(`invalid dynamic tool: ${describe(entry)}`)
    add(parsed.data, null)
  }
  return out
}

function checkName(name: string): void {
  if (name.length === 0) throw invalidRequest('dynamic tool name must not be empty')
  if (name.trim() !== name) throw invalidRequest(`dynamic tool name has leading/trailing whitespace: ${name}`)
  if (!NAME_PATTERN.test(name)) {
    throw invalidRequest(`dynamic tool name must match ^[a-zA-Z0-9_-]+$ to match Responses API: ${name}`)
  }
  if (name.length > MAX_NAME_LENGTH) {
    throw invalidRequest(
      `dynamic tool name must be at most ${MAX_NAME_LENGTH} characters to match Responses API: ${name}`,
    )
  }
  if (name === 'mcp' || name.startsWith('mcp__'))
    throw invalidRequest(`dynamic tool name is reserved: ${name}`)
}

/** A JSON schema must be an object; anything else gets serde's wording for what it found. */
function schemaProblem(schema: unknown): string | null {
  if (schema !== null && typeof schema === 'object' && !Array.isArray(schema)) return null
  return `invalid type: ${serdeKind(schema)}, expected a JSON schema object`
}

function serdeKind(value: unknown): string {
  if (Array.isArray(value)) return 'sequence'
  if (value === null) return 'unit value'
  if (typeof value === 'string') return `string ${JSON.stringify(value)}`
  if (typeof value === 'boolean') return `boolean \`${value}\``
  if (typeof value === 'number')
    return Number.isInteger(value) ? `integer \`${value}\`` : `floating point \`${value}\``
  return typeof value
}

function describe(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value)
  return text.length > 200 ? `${text.slice(0, 200)}...` : text
}
