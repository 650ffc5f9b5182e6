/**
 * Extension and capability handlers: what a client (the Codex TUI, an SDK) asks at startup about
 * skills, hooks, plugins, apps, MCP servers, collaboration modes, feature flags, permission
 * profiles, external agent config, rate limits and Bedrock. Each answer says what is true of
 * codex-desk, in codex 0.169.0's shapes: skills are discovered on disk (agent/skills.ts); hooks,
 * plugins, apps and import candidates do not exist here, so their lists are empty. MCP servers are
 * answered by server/mcp.ts.
 *
 * It must never claim a capability codex-desk lacks (no made-up entries, no plan mode) and never fail
 * a listing because one skill or one config layer is broken.
 */
import { access } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { SkillsCatalog } from '../agent/skills'
import type { ConfigLayer } from '../config/loader'
import { SANDBOX_MODES, type SandboxMode } from '../config/schema'
import { ErrorCode, invalidRequest, RpcError } from '../protocol/errors'
import type { ExperimentalFeature, extensionRequests } from '../protocol/extensions'
import type { Disposable } from '../util/event'
import type { AppServer } from './appServer'
import type { Handler } from './context'

type Handlers = { [M in keyof typeof extensionRequests]: Handler<M> }

/** codex's ids for the sandbox modes codex-desk enforces (`permissionProfile/list`). */
const PROFILE_IDS: Record<SandboxMode, string> = {
  'read-only': ':read-only',
  'workspace-write': ':workspace',
  'danger-full-access': ':danger-full-access',
}

/** The feature flags codex-desk acts on: `[features] NAME = true|false` (or `--enable`/`--disable`). */
const FEATURES: readonly { name: string; defaultEnabled: boolean }[] = [
  // Sub-agent tools (spawn_agent, send_input, wait_agent, close_agent): agent/subAgents.ts.
  { name: 'multi_agent', defaultEnabled: true },
]

/** One page of `items` from codex's decimal-offset cursor; without a limit, everything. */
function page<T>(
  items: readonly T[],
  params: { cursor?: string | null | undefined; limit?: number | null | undefined },
  what: string,
): { data: T[]; nextCursor: string | null } {
  let start = 0
  if (params.cursor != null) {
    if (!/^\d+$/.test(params.cursor)) throw invalidRequest(`invalid cursor: ${params.cursor}`)
    start = Number(params.cursor)
    if (start > items.length) throw invalidRequest(`cursor ${start} exceeds total ${what} ${items.length}`)
  }
  const end = params.limit == null ? items.length : Math.min(items.length, start + Math.max(1, params.limit))
  return { data: items.slice(start, end), nextCursor: end < items.length ? String(end) : null }
}

const isTable = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/**
 * The layers' raw TOML, lowest precedence first. Keys codex-desk's schema does not know (such as
 * `mcp_servers` and `hooks`) are dropped from the validated layers, so they are read from the text.
 */
async function rawLayers(
  layers: readonly ConfigLayer[],
): Promise<{ layer: ConfigLayer; table: Record<string, unknown> }[]> {
  const withText = layers.filter((layer) => layer.text && !layer.disabledReason)
  if (withText.length === 0) return []
  const { loadTomlParser } = await import('../config/overrides')
  const parse = await loadTomlParser()
  const out: { layer: ConfigLayer; table: Record<string, unknown> }[] = []
  for (const layer of withText) {
    try {
      const table = parse(layer.text as string)
      if (isTable(table)) out.push({ layer, table })
    } catch {
      // The loader already reported this layer; it contributes nothing.
    }
  }
  return out
}

/** Hook settings in the config that codex-desk does not run (codex reads them; we say so). */
async function hookWarnings(core: AppServer): Promise<string[]> {
  const { layers, effective } = core.config.current
  if (effective.features.hooks === false || effective.features.codex_hooks === false) return []
  const warnings: string[] = []
  for (const { layer, table } of await rawLayers(layers)) {
    if (table.hooks !== undefined) {
      warnings.push(
        `codex-desk does not run lifecycle hooks; the hooks in ${layer.file ?? layer.label} are ignored.`,
      )
    }
  }
  const folders = new Set(layers.flatMap((layer) => (layer.file ? [dirname(layer.file)] : [])))
  for (const folder of folders) {
    const file = join(folder, 'hooks.json')
    if (
      await access(file).then(
        () => true,
        () => false,
      )
    ) {
      warnings.push(`codex-desk does not run lifecycle hooks; the hooks in ${file} are ignored.`)
    }
  }
  return warnings
}

/**
 * The handlers, and what releases what they hold (the skills catalog's folder watchers, its change
 * timer): the AppServer disposes it when it closes. A listing answered after that watches nothing.
 */
export function extensionHandlers(core: AppServer): { handlers: Handlers } & Disposable {
  let catalog: SkillsCatalog | undefined
  let disposed = false
  const skills = async (): Promise<SkillsCatalog> => {
    if (catalog) return catalog
    const { SkillsCatalog } = await import('../agent/skills')
    if (catalog) return catalog
    const created = (catalog = new SkillsCatalog({
      home: core.options.codexHome,
      log: core.options.logs.get('skills'),
    }))
    created.onDidChange(() => core.router.notify('all', 'skills/changed', {}))
    if (disposed) created.dispose()
    return created
  }
  // Nobody is left to tell about changes once the last client has gone (and on shutdown, every
  // client goes): the watchers stop and the next listing starts over.
  const closed = core.router.onConnectionClosed(() => {
    if (core.router.size === 0) catalog?.suspend()
  })
  const dispose = () => {
    disposed = true
    closed.dispose()
    catalog?.dispose()
  }

  const cwdsOr = (cwds: readonly string[] | null | undefined) =>
    cwds && cwds.length > 0 ? cwds : [process.cwd()]
  const threadSettings = async (threadId: string) => {
    const { manager } = await core.threadSystem()
    return manager.settingsOf(manager.require(threadId))
  }

  const handlers: Handlers = {
    'skills/list': async (params) => ({
      data: await (await skills()).list(cwdsOr(params.cwds), params.forceReload === true),
    }),

    'hooks/list': async (params) => {
      const cwds =
        params.threadId && !params.cwds?.length
          ? [(await threadSettings(params.threadId)).cwd]
          : cwdsOr(params.cwds)
      const warnings = await hookWarnings(core)
      return { data: cwds.map((cwd) => ({ cwd, hooks: [], warnings, errors: [] })) }
    },

    'plugin/list': () => ({ marketplaces: [], marketplaceLoadErrors: [], featuredPluginIds: [] }),
    'plugin/installed': () => ({ marketplaces: [], marketplaceLoadErrors: [] }),
    'app/list': () => ({ data: [], nextCursor: null }),

    // codex-desk has one way of working; it offers no plan mode (codex's other preset).
    'collaborationMode/list': () => ({
      data: [{ name: 'Default', mode: 'default', model: null, reasoning_effort: null }],
    }),

    'experimentalFeature/list': async (params) => {
      const config = params.threadId
        ? (await threadSettings(params.threadId)).config
        : core.config.current.effective
      const features: ExperimentalFeature[] = FEATURES.map(({ name, defaultEnabled }) => ({
        name,
        stage: 'stable',
        displayName: null,
        description: null,
        announcement: null,
        enabled: config.features[name] ?? defaultEnabled,
        defaultEnabled,
      }))
      return page(features, params, 'feature flags')
    },

    'permissionProfile/list': async (params) => {
      const { checkSandboxMode } = await import('../config/requirements')
      const requirements = core.config.requirements()
      const profiles = SANDBOX_MODES.map((mode) => ({
        id: PROFILE_IDS[mode],
        description: null,
        allowed: checkSandboxMode(requirements, mode) === undefined,
      }))
      return page(profiles, params, 'permission profiles')
    },

    'externalAgentConfig/detect': () => ({ items: [], connectors: [] }),

    // codex-desk never fetches usage limits; codex's answers when it has none to give.
    'account/rateLimits/read': async () => {
      const [auth, { resolveProvider }] = await Promise.all([core.auth(), import('../agent/providers')])
      let provider
      try {
        provider = resolveProvider(core.config.current.effective, core.options.env ?? process.env, {
          accountMayAuthenticate: true,
        })
      } catch (error) {
        throw invalidRequest((error as Error).message)
      }
      const { account } = await auth.account(provider)
      if (!account) throw invalidRequest('codex account authentication required to read rate limits')
      if (account.type !== 'chatgpt')
        throw invalidRequest('chatgpt authentication required to read rate limits')
      throw new RpcError(
        ErrorCode.Internal,
        'failed to fetch codex rate limits: codex-desk does not read usage limits from the ChatGPT backend',
      )
    },

    // codex-desk has no Bedrock provider, so no GovCloud region to check.
    'account/bedrock/checkGovCloudRequirements': () => ({ isGovCloud: false, shouldWarn: false }),
  }
  return { handlers, dispose }
}
