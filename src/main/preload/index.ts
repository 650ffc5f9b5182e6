/**
 * Sandboxed preload: implements the desktop bridge (src/renderer/bridge.ts) as `window.codexDesk`,
 * one function per capability, each an IPC call main validates (desktopIpc.ts). It never exposes
 * ipcRenderer, an IPC event, or a way to name a channel.
 *
 * MessagePorts cannot cross contextBridge: `connect(nonce)` asks main for a port, main posts it
 * here, and this relays it to the page with window.postMessage and the nonce (portHandoff.ts); the
 * renderer takes only a message from its own window carrying its own nonce.
 *
 * Bundled as CommonJS (sandboxed preloads cannot be ESM): imports electron and runtime-free modules
 * only.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron'
import type { DesktopBridge, Unsubscribe } from '../../renderer/bridge'
import { IPC_EVENT, IPC_INVOKE, type EventChannel } from '../ipcChannels'
import { PORT_MESSAGE_TYPE, PORT_REQUEST_CHANNEL, relayMessage } from '../portHandoff'

/**
 * The page's own origin for http(s) (the dev server). A file: page has an opaque origin that no
 * targetOrigin string matches, so there it is '*'; the message still reaches only this window (it
 * is posted to `window` itself, and navigation away from the app's page is blocked), and it carries
 * nothing but the nonce and the port the renderer asked for.
 */
function targetOrigin(): string {
  const { protocol, origin } = window.location
  return protocol === 'http:' || protocol === 'https:' ? origin : '*'
}

ipcRenderer.on(PORT_MESSAGE_TYPE, (event, payload: unknown) => {
  const message = relayMessage(payload)
  if (!message || event.ports.length !== 1) {
    for (const port of event.ports) port.close()
    return
  }
  window.postMessage(message, targetOrigin(), event.ports)
})

function subscribe<T>(channel: EventChannel, listener: (value: T) => void): Unsubscribe {
  const onEvent = (_event: IpcRendererEvent, value: T) => listener(value)
  ipcRenderer.on(channel, onEvent)
  return () => {
    ipcRenderer.removeListener(channel, onEvent)
  }
}

const bridge: DesktopBridge = {
  connect(nonce) {
    ipcRenderer.send(PORT_REQUEST_CHANNEL, nonce)
  },
  openFile: (location) => ipcRenderer.invoke(IPC_INVOKE.openFile, location),
  copyText: (text) => ipcRenderer.invoke(IPC_INVOKE.copyText, text),
  chooseFolder: (defaultPath) => ipcRenderer.invoke(IPC_INVOKE.chooseFolder, defaultPath),
  appInfo: () => ipcRenderer.invoke(IPC_INVOKE.appInfo),
  settings: {
    get: () => ipcRenderer.invoke(IPC_INVOKE.settingsGet),
    update: (patch) => ipcRenderer.invoke(IPC_INVOKE.settingsUpdate, patch),
    regenerateToken: () => ipcRenderer.invoke(IPC_INVOKE.settingsRegenerateToken),
    onDidChange: (listener) => subscribe(IPC_EVENT.settingsChanged, listener),
  },
  account: {
    summary: () => ipcRenderer.invoke(IPC_INVOKE.accountSummary),
    signIn: () => ipcRenderer.invoke(IPC_INVOKE.accountSignIn),
    signOut: () => ipcRenderer.invoke(IPC_INVOKE.accountSignOut),
    onDidChange: (listener) => subscribe(IPC_EVENT.accountChanged, listener),
  },
  core: {
    state: () => ipcRenderer.invoke(IPC_INVOKE.coreState),
    retry: () => ipcRenderer.invoke(IPC_INVOKE.coreRetry),
    onDidChangeState: (listener) => subscribe(IPC_EVENT.coreStateChanged, listener),
  },
  attention: {
    notify: (notice) => ipcRenderer.invoke(IPC_INVOKE.attentionNotify, notice),
    setBadgeCount: (count) => ipcRenderer.invoke(IPC_INVOKE.attentionBadge, count),
    onOpenThread: (listener) => subscribe(IPC_EVENT.openThread, listener),
  },
}

contextBridge.exposeInMainWorld('codexDesk', bridge)
