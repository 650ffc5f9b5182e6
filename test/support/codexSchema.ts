/**
 * The wire shapes of codex 0.169.0, as its own `codex app-server generate-json-schema --experimental`
 * printed them (vendored, gzipped, under test/fixtures/codex-0.169.0/). Tests check what codex-desk
 * sends against them, so a shape that drifts from codex fails a test instead of a real client:
 *
 *   expectCodexShape('ModelListResponse', result)
 *   expectCodexShape('ServerNotification', { method: 'thread/settings/updated', params })
 *
 * `typeName` is a definition of the v2 schema (`ThreadTurnsListResponse`, `Thread`, ...) or one of
 * the unions `ClientRequest`, `ServerRequest`, `ServerNotification`.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { gunzipSync } from 'node:zlib'
import { Ajv, type ValidateFunction } from 'ajv'

const dir = fileURLToPath(new URL('../fixtures/codex-0.169.0/', import.meta.url))
const load = (name: string): Record<string, unknown> =>
  JSON.parse(gunzipSync(readFileSync(dir + name + '.gz')).toString('utf8')) as Record<string, unknown>

let ajv: Ajv | undefined
const validators = new Map<string, ValidateFunction>()

function validator(typeName: string): ValidateFunction {
  let fn = validators.get(typeName)
  if (fn) return fn
  if (!ajv) {
    ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false })
    ajv.addSchema(load('codex_app_server_protocol.v2.schemas.json'), 'v2')
    for (const union of ['ClientRequest', 'ServerRequest', 'ServerNotification'])
      ajv.addSchema(load(`${union}.json`), union)
  }
  fn = ['ClientRequest', 'ServerRequest', 'ServerNotification'].includes(typeName)
    ? ajv.getSchema(typeName)
    : ajv.getSchema(`v2#/definitions/${typeName}`)
  if (!fn) throw new Error(`codex 0.169.0 has no schema type ${typeName}`)
  validators.set(typeName, fn)
  return fn
}

/** The schema errors of `value` as `typeName` (empty when it conforms). */
export function codexSchemaErrors(typeName: string, value: unknown): string[] {
  const fn = validator(typeName)
  if (fn(value)) return []
  return (fn.errors ?? []).map(
    (e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`,
  )
}

/** Throws, listing every mismatch, unless `value` is a valid codex 0.169.0 `typeName`. */
export function expectCodexShape(typeName: string, value: unknown): void {
  const errors = codexSchemaErrors(typeName, value)
  if (errors.length > 0) {
    throw new Error(
      `not a valid codex 0.169.0 ${typeName}:\n  ${errors.slice(0, 12).join('\n  ')}\nvalue: ${JSON.stringify(value).slice(0, 2000)}`,
    )
  }
}

/** Every method name of a codex 0.169.0 union (`ClientRequest`, ...), optionally the stable ones only. */
export function codexMethods(
  union: 'ClientRequest' | 'ServerRequest' | 'ServerNotification',
  stable = false,
): string[] {
  const schema = load(stable && union === 'ClientRequest' ? 'ClientRequest.stable.json' : `${union}.json`)
  const out: string[] = []
  for (const variant of (schema.oneOf ?? []) as {
    properties?: { method?: { enum?: string[]; const?: string } }
  }[]) {
    const m = variant.properties?.method
    if (m?.enum) out.push(...m.enum)
    else if (m?.const) out.push(m.const)
  }
  return out
}
