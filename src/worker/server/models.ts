/**
 * Model catalog handlers: `model/list` (the built-in catalog, the configured model, and what a
 * non-OpenAI provider's `/models` serves, paged as codex pages it) and
 * `modelProvider/capabilities/read` (what codex-desk can do with the configured provider).
 */
import { listModels, pageOf, providerNotConfigured } from '../agent/modelCatalog'
import { ProviderModels } from '../agent/providerModels'
import { BUILTIN_PROVIDERS } from '../agent/providers'
import type { modelRequests } from '../protocol/models'
import type { AppServer } from './appServer'
import type { Handler } from './context'

export function modelHandlers(core: AppServer): { [M in keyof typeof modelRequests]: Handler<M> } {
  const providerModels = new ProviderModels({ log: core.options.logs.get('models') })
  return {
    'model/list': async (params) => {
      const config = core.config.current.effective
      const providerId = params.modelProvider ?? config.model_provider
      if (!BUILTIN_PROVIDERS[providerId] && !config.model_providers?.[providerId])
        throw providerNotConfigured(providerId)
      const ids = await providerModels.list({
        config,
        providerId,
        env: core.options.env ?? process.env,
        auth: await core.auth(),
        upstreamHeaders: core.originator.upstreamHeaders(core.options.version),
      })
      const models = listModels({
        defaultModel: config.model,
        configuredModel: providerId === config.model_provider ? config.model : null,
        providerModels: ids,
        includeHidden: params.includeHidden ?? false,
      })
      return pageOf(models, params.cursor, params.limit)
    },
    // codex-desk sends no hosted web-search or image-generation tool to any provider.
    // Web search is the Responses API's hosted tool, offered unless config says `web_search = "disabled"`.
    'modelProvider/capabilities/read': async () => {
      // Loaded here, not at start-up: the thread settings module pulls in the threads subsystem.
      const [{ webSearchMode }, { sandboxPolicyFor }] = await Promise.all([
        import('../agent/webSearch'),
        import('../threads/threadSettings'),
      ])
      const config = core.config.current.effective
      const sandbox = sandboxPolicyFor(config.sandbox_mode, config)
      return { imageGeneration: false, webSearch: webSearchMode(config, sandbox) !== 'disabled' }
    },
  }
}
