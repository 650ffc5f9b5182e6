/**
 * Where the renderer connects (src/renderer/target.ts): the app's port, `?ws=`, the core that
 * served the page with the token from the fragment (kept in sessionStorage), or offline.
 */
import { describe, expect, it } from 'vitest'
import { OFFLINE_HELP, resolveTarget, TOKEN_KEY } from '../../src/renderer/target'

function memoryStorage(initial: Record<string, string> = {}) {
  const map = new Map(Object.entries(initial))
  return {
    map,
    getItem: (key: string) => map.get(key) ?? null,
    setItem: (key: string, value: string) => void map.set(key, value),
    removeItem: (key: string) => void map.delete(key),
  }
}

const page = (href: string) => {
  const url = new URL(href)
  return { protocol: url.protocol, host: url.host, search: url.search, hash: url.hash }
}

describe('renderer connection target', () => {
  it('uses the bridge inside the app, whatever the address says', () => {
    const storage = memoryStorage()
    expect(resolveTarget(page('file:///app/index.html#token=abc'), true, storage)).toEqual({
      target: { kind: 'app' },
      stripHash: false,
    })
    expect(storage.map.size).toBe(0)
  })

  it('connects to the core that served the page, with the fragment token kept and stripped', () => {
    const storage = memoryStorage()
    expect(resolveTarget(page('http://127.0.0.1:4500/#token=s3cr3t-_x'), false, storage)).toEqual({
      target: {
        kind: 'websocket',
        url: 'ws://127.0.0.1:4500/',
        protocols: ['codex-desk', 'codex-desk.bearer.s3cr3t-_x'],
      },
      stripHash: true,
    })
    expect(storage.map.get(TOKEN_KEY)).toBe('s3cr3t-_x')
    // A reload: the fragment is gone, the token comes from sessionStorage.
    expect(resolveTarget(page('http://127.0.0.1:4500/'), false, storage)).toEqual({
      target: {
        kind: 'websocket',
        url: 'ws://127.0.0.1:4500/',
        protocols: ['codex-desk', 'codex-desk.bearer.s3cr3t-_x'],
      },
      stripHash: false,
    })
  })

  it('prefers ?ws= and offers no bearer protocol without a token; https pages use wss', () => {
    expect(resolveTarget(page('http://127.0.0.1:9/index.html?ws=ws://127.0.0.1:7777'), false, null)).toEqual({
      target: { kind: 'websocket', url: 'ws://127.0.0.1:7777', protocols: ['codex-desk'] },
      stripHash: false,
    })
    expect(resolveTarget(page('https://desk.example:8443/'), false, null).target).toMatchObject({
      url: 'wss://desk.example:8443/',
    })
  })

  it('is offline as a plain file without ?ws, and refuses a ?ws that is not a websocket URL', () => {
    expect(resolveTarget(page('file:///home/me/out/renderer/index.html'), false, null).target).toEqual({
      kind: 'offline',
      message: OFFLINE_HELP,
    })
    expect(resolveTarget(page('file:///x/index.html?ws=http://127.0.0.1:1'), false, null).target).toEqual({
      kind: 'offline',
      message: 'the ws parameter must be a ws:// or wss:// URL, not http://127.0.0.1:1',
    })
  })
})
