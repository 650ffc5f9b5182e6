/**
 * Writes to the user `config.toml` (`config/value/write`, `config/batchWrite`): validate first, refuse
 * a stale `expectedVersion`, keep comments and formatting (./tomlEdit), and replace the file
 * atomically. Loaded on the first write only: the editor and its parser are not needed to serve.
 * It never writes any file but the user config, and never leaves a half-written one behind.
 */
import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { ErrorCode, RpcError } from '../protocol/errors'
import type { ConfigWriteErrorCode } from '../protocol/config'
import { writeFileAtomic } from '../util/atomicWrite'
import type { Logger } from '../util/log'
import { dotted, issueMessage, type SchemaIssue } from './diagnostics'
import { checkWriteAgainst } from './enforce'
import { sha256, type LoadedConfig } from './loader'
import { getAt, plain } from './merge'
import { loadTomlParser } from './overrides'
import type { ConfigRequirements } from './requirements'
import { ConfigToml } from './schema'
import type { ConfigWriteRequest, ConfigWriteResult } from './service'
import type { TomlEdit } from './tomlEdit'

export interface WriteContext {
  userFile: string
  log: Logger
  current(): LoadedConfig
  requirements(): ConfigRequirements | null
  reload(reason: string): Promise<void>
}

export const writeError = (code: ConfigWriteErrorCode, message: string): RpcError =>
  new RpcError(ErrorCode.InvalidRequest, message, { config_write_error_code: code })

export async function writeConfig(
  ctx: WriteContext,
  request: ConfigWriteRequest,
): Promise<ConfigWriteResult> {
  const file = ctx.userFile
  if (request.filePath && resolve(request.filePath) !== file) {
    throw writeError(
      'configLayerReadonly',
      `Only the user config file (${file}) can be written; ${request.filePath} is read-only.`,
    )
  }
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return ''
    throw error
  })
  const version = sha256(text)
  if (request.expectedVersion && request.expectedVersion !== version) {
    throw writeError(
      'configVersionConflict',
      'Configuration was modified since last read. Fetch latest version and retry.',
    )
  }
  const edits: TomlEdit[] = request.edits.map((edit) => {
    const path = edit.keyPath.split('.')
    if (path.some((part) => part.length === 0)) {
      throw writeError(
        'configValidationError',
        `Invalid configuration: \`${edit.keyPath}\` is not a key path`,
      )
    }
    return { path, value: edit.value, mergeStrategy: edit.mergeStrategy }
  })
  const parse = await loadTomlParser()
  let before: Record<string, unknown>
  try {
    before = plain(parse(text))
  } catch (error) {
    throw writeError(
      'configValidationError',
      `Invalid configuration: ${file} does not parse (${(error as Error).message}); fix it before writing to it`,
    )
  }
  // The editor pulls in a second TOML parser; load it only when someone writes (cold-start budget).
  const { applyEditsToValue, applyTomlEdits, TomlEditError } = await import('./tomlEdit')
  let newText: string
  try {
    const after = applyEditsToValue(before, edits)
    validateEdits(ctx, after, edits)
    newText = applyTomlEdits(text, edits)
  } catch (error) {
    if (error instanceof TomlEditError) {
      throw writeError('configValidationError', `Invalid configuration: ${error.message}`)
    }
    throw error
  }
  await writeConfigFile(file, newText)
  ctx.log.info({ file, keys: request.edits.map((e) => e.keyPath) }, 'config written')
  await ctx.reload('write')
  return {
    status: 'ok',
    version: sha256(newText),
    filePath: file,
    overriddenMetadata: null,
    ...overridden(ctx, edits),
  }
}

/** Rejects edits whose result breaks the schema or the requirements; leaves unrelated old problems alone. */
function validateEdits(ctx: WriteContext, after: Record<string, unknown>, edits: TomlEdit[]): void {
  const touches = (issuePath: readonly PropertyKey[]) =>
    edits.some((e) => {
      const a = e.path
      const b = issuePath.map(String)
      const n = Math.min(a.length, b.length)
      return a.slice(0, n).every((x: string, i: number) => x === b[i])
    })
  const result = ConfigToml.safeParse(after, { reportInput: true })
  if (!result.success) {
    for (const raw of result.error.issues) {
      const issue = raw as unknown as SchemaIssue
      if (issue.code === 'unrecognized_keys') {
        const bad = (issue.keys ?? []).map((k) => [...issue.path, k]).filter(touches)
        if (bad[0])
          throw writeError(
            'configSchemaUnknownKey',
            `Invalid configuration: unknown configuration key \`${dotted(bad[0])}\``,
          )
      } else if (touches(issue.path)) {
        throw writeError('configValidationError', `Invalid configuration: ${issueMessage(issue)}`)
      }
    }
  }
  for (const edit of edits) {
    const problem = checkWriteAgainst(ctx.requirements(), edit.path, getAt(after, edit.path))
    if (problem) throw writeError('configValidationError', `Invalid configuration: ${problem}`)
  }
}

/** `okOverridden` when a layer above the user file decides an edited key. */
function overridden(ctx: WriteContext, edits: TomlEdit[]): Partial<ConfigWriteResult> {
  const { origins, layers, merged } = ctx.current()
  for (const edit of edits) {
    const key = edit.path.join('.')
    const deciding = Object.entries(origins).find(
      ([k, origin]) =>
        origin.name.type !== 'user' &&
        origin.name.type !== 'system' &&
        (k === key || k.startsWith(`${key}.`) || key.startsWith(`${k}.`)),
    )
    if (!deciding) continue
    const [decidingKey, origin] = deciding
    const layer = layers.find((l) => l.version === origin.version && l.name.type === origin.name.type)
    const path = decidingKey.length < key.length ? decidingKey.split('.') : edit.path
    return {
      status: 'okOverridden',
      overriddenMetadata: {
        message: `Overridden by ${layer?.label ?? origin.name.type}`,
        overridingLayer: origin,
        effectiveValue: getAt(merged, path) ?? null,
      },
    }
  }
  return {}
}

/** The user config replaced atomically; a failure (a full disk) is an error the client can show. */
export async function writeConfigFile(file: string, text: string): Promise<void> {
  try {
    await writeFileAtomic(file, text)
  } catch (error) {
    const e = error as NodeJS.ErrnoException
    throw new RpcError(
      ErrorCode.Internal,
      `Could not write ${file}: ${e.code === 'ENOSPC' ? 'no space left on device' : e.message}`,
    )
  }
}
