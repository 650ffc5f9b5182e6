/**
 * Renderer entry: picks the transport (the app's MessagePort through the preload, or a websocket
 * in a browser), starts the session, mounts the views, and in the app wires the core's state and
 * the account to the bridge. Imports nothing from Node.
 */
import { receivePort, type MessageEventTarget } from '../main/portHandoff'
import { version } from '../../package.json'
import type { DesktopBridge, CoreStateView } from './bridge'
import { openWebSocket, portChannel } from './channels'
import { DeskSession, newId, type KeyValueStorage } from './session'
import { ComposerQueue } from './state/composerQueue'
import { rememberDismissals } from './state/dismissalMemory'
import { DeskStore } from './state/store'
import { resolveTarget, TOKEN_KEY, type Target } from './target'
import { mountApp } from './view/app'

function sessionStore(): KeyValueStorage | null {
  try {
    const storage = window.sessionStorage
    storage.getItem('codex-desk.probe')
    return storage
  } catch {
    return null // storage disabled (e.g. some file:// setups): a reload then starts fresh
  }
}

/** This tab's id in its sessionStorage: a reload keeps it, another tab has its own. */
const TAB_ID_KEY = 'codex-desk.tabId'

/** localStorage (shared by the tabs of this origin), or null when disabled. */
function localStore(): KeyValueStorage | null {
  try {
    const storage = window.localStorage
    storage.getItem('codex-desk.probe')
    return storage
  } catch {
    return null
  }
}

/** Queued messages and drafts in localStorage, owned by this tab (its id survives a reload). */
function composerQueue(tabStorage: KeyValueStorage | null): ComposerQueue {
  let tabId = tabStorage?.getItem(TAB_ID_KEY) ?? null
  if (!tabId) {
    tabId = newId()
    tabStorage?.setItem(TAB_ID_KEY, tabId)
  }
  return new ComposerQueue({ storage: localStore(), tabId, newId })
}

function watchCore(bridge: DesktopBridge, store: DeskStore, session: DeskSession): void {
  let generation: number | null = null
  const onState = (state: CoreStateView) => {
    store.setCore(state)
    if (state.kind !== 'running') return
    // A new core (after a crash or a Retry): the old port is dead, connect now instead of waiting.
    if (generation !== null && state.generation !== generation) session.reconnectNow()
    generation = state.generation
  }
  bridge.core.onDidChangeState(onState)
  bridge.core.state().then(onState, () => undefined)
  bridge.account.onDidChange((summary) => store.setDesktopAccount(summary))
  bridge.account.summary().then(
    (summary) => store.setDesktopAccount(summary),
    (error: unknown) => store.setAccountError(`Could not read the account: ${(error as Error).message}`),
  )
}

const TOKEN_HELP = 'open the URL printed by `npm run serve` (it carries the token)'

/**
 * Why the websocket to the core that served this page failed: the browser hides a 401 behind a
 * generic error, so ask the page's own server whether it is up. Up means the token was refused.
 */
async function explainRefusal(storage: KeyValueStorage | null): Promise<string | null> {
  try {
    const response = await fetch(`${window.location.origin}/`, { method: 'HEAD', cache: 'no-store' })
    if (!response.ok) return null
  } catch {
    return `nothing answers at ${window.location.host}; start the core with \`npm run serve\` and ${TOKEN_HELP}`
  }
  return storage?.getItem(TOKEN_KEY)
    ? `the core did not accept this page's token; ${TOKEN_HELP}`
    : `this page has no token; ${TOKEN_HELP}`
}

function start(): void {
  const bridge = window.codexDesk
  const storage = sessionStore()
  const resolved = resolveTarget(window.location, Boolean(bridge), storage)
  let target: Target = resolved.target
  // The token stays in this tab's sessionStorage, out of the address bar and its history.
  const stripHash = () =>
    history.replaceState(history.state, '', window.location.pathname + window.location.search)
  if (resolved.stripHash) stripHash()
  const servedByCore = !bridge && !new URLSearchParams(window.location.search).get('ws')

  const store = new DeskStore()
  // Dismissed config problems and notices stay dismissed after a reload, until they change.
  rememberDismissals(store, localStore())
  const session = new DeskSession({
    store,
    storage,
    composerQueue: composerQueue(storage),
    clientVersion: version,
    openChannel: () => {
      if (target.kind === 'websocket') {
        const explain = servedByCore ? () => explainRefusal(storage) : undefined
        return openWebSocket(target.url, target.protocols, undefined, explain)
      }
      if (target.kind === 'app' && bridge) {
        return receivePort<MessagePort>(
          window as unknown as MessageEventTarget<MessagePort>,
          (nonce) => bridge.connect(nonce),
          { source: window, timeoutMs: 5000 },
        ).then(portChannel)
      }
      return Promise.reject(new Error('nowhere to connect'))
    },
  })
  mountApp({ root: document.getElementById('app') as HTMLElement, store, session, bridge })
  if (target.kind === 'offline') {
    store.setConnection({ state: 'offline', message: target.message })
    return
  }
  if (bridge) watchCore(bridge, store, session)
  else {
    // The printed `#token=` URL pasted into this tab changes only the fragment: use its token now.
    window.addEventListener('hashchange', () => {
      const next = resolveTarget(window.location, false, storage)
      if (!next.stripHash) return
      stripHash()
      target = next.target
      session.reconnectNow()
    })
  }
  session.start()
}

start()
