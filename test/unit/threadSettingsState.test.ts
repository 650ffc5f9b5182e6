/**
 * The renderer's per-thread settings state (src/renderer/state/threadSettings.ts): what the core
 * reported for each thread, the efforts a model offers, and the recent working folders kept in a
 * page's storage (newest first, no duplicates, at most eight, and a broken entry is ignored).
 */
import { describe, expect, it } from 'vitest'
import {
  defaultFolder,
  RECENT_FOLDERS_KEY,
  ThreadSettingsState,
  type FolderStorage,
} from '../../src/renderer/state/threadSettings'
import type { Model } from '../../src/worker/protocol/models'

function memoryStorage(
  initial: Record<string, string> = {},
): FolderStorage & { data: Record<string, string> } {
  const data = { ...initial }
  return {
    data,
    getItem: (key) => data[key] ?? null,
    setItem: (key, value) => void (data[key] = value),
  }
}

const model = (id: string, efforts: string[]): Model =>
  ({
    id,
    model: id,
    displayName: id,
    hidden: false,
    supportedReasoningEfforts: efforts.map((reasoningEffort) => ({ reasoningEffort, description: '' })),
    defaultReasoningEffort: efforts[0] ?? 'medium',
    isDefault: false,
  }) as unknown as Model

describe('recent folders', () => {
  it('keeps the newest first, without duplicates, at most eight, in the storage', () => {
    const storage = memoryStorage()
    const state = new ThreadSettingsState(storage)
    expect(defaultFolder(state)).toBeNull()
    for (let i = 1; i <= 10; i++) state.rememberFolder(`/work/p${i}`)
    state.rememberFolder('/work/p5')
    expect(state.recentFolders[0]).toBe('/work/p5')
    expect(state.recentFolders).toHaveLength(8)
    expect(new Set(state.recentFolders).size).toBe(8)
    expect(defaultFolder(state)).toBe('/work/p5')
    // A new page reads them back.
    expect(new ThreadSettingsState(storage).recentFolders).toEqual(state.recentFolders)
    state.forgetFolder('/work/p5')
    expect(JSON.parse(storage.data[RECENT_FOLDERS_KEY] ?? '[]')).not.toContain('/work/p5')
  })

  it('ignores what it cannot read, and a storage that refuses to write', () => {
    expect(
      new ThreadSettingsState(memoryStorage({ [RECENT_FOLDERS_KEY]: '{not json' })).recentFolders,
    ).toEqual([])
    expect(
      new ThreadSettingsState(memoryStorage({ [RECENT_FOLDERS_KEY]: '["/a", 3, "", "/b"]' })).recentFolders,
    ).toEqual(['/a', '/b'])
    const full: FolderStorage = {
      getItem: () => null,
      setItem: () => {
        throw new Error('QuotaExceededError')
      },
    }
    const state = new ThreadSettingsState(full)
    state.rememberFolder('/a')
    expect(state.recentFolders).toEqual(['/a'])
  })
})

describe('what a thread runs with', () => {
  it('follows responses, updates and thread reads, and tells its listeners once per change', () => {
    const state = new ThreadSettingsState(null)
    let changes = 0
    state.subscribe(() => changes++)
    state.fromResponse('t1', { cwd: '/a', model: 'm1', modelProvider: 'mock', reasoningEffort: null })
    expect(state.of('t1')).toEqual({ cwd: '/a', model: 'm1', modelProvider: 'mock', effort: null })
    state.fromUpdate('t1', { cwd: '/b', model: 'm2', modelProvider: 'mock', effort: 'high' })
    expect(state.of('t1')?.effort).toBe('high')
    const thread = { id: 't1', cwd: '/b', model: 'm2', modelProvider: 'mock', reasoningEffort: 'high' }
    state.fromThread(thread)
    expect(changes).toBe(2)
    state.fromThread({ ...thread, modelProvider: 'other' })
    expect(state.of('t1')?.modelProvider).toBe('other')
    expect(changes).toBe(3)
    expect(state.of(null)).toBeUndefined()
  })

  it("offers the chosen model's efforts, and none for a model the catalog does not list", () => {
    const state = new ThreadSettingsState(null)
    state.setModels([model('gpt-a', ['low', 'medium', 'high']), model('gpt-b', [])])
    expect(state.effortsFor('gpt-a')).toEqual(['low', 'medium', 'high'])
    expect(state.effortsFor('gpt-b')).toEqual([])
    expect(state.effortsFor('unlisted')).toEqual([])
  })
})
