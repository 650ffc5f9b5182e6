/**
 * Sandboxed preload: exposes one narrow API to the renderer. MessagePorts cannot cross
 * contextBridge, so `connect(nonce)` asks main for a port and relays it with window.postMessage,
 * tagged with the renderer's nonce (VS Code's pattern). Never exposes ipcRenderer itself.
 */
import { contextBridge, ipcRenderer } from 'electron'

ipcRenderer.on('codex-desk:port', (event, message: { nonce: string }) => {
  window.postMessage({ type: 'codex-desk:port', nonce: message.nonce }, window.location.origin, event.ports)
})

contextBridge.exposeInMainWorld('codexDesk', {
  connect: (nonce: string) => ipcRenderer.send('codex-desk:connect', nonce),
})
