/**
 * What each thread's next turn runs with (folder, model, provider, effort) as the core last said
 * (start/resume responses, `thread/settings/updated`), the model catalog (`model/list`), and the
 * recently used working folders (kept in the page's localStorage, newest first).
 *
 * Runtime-free and DOM-free: the session feeds it, the thread header reads it. It must never
 * invent a value the core did not report, and never throw on a storage that is full or unreadable.
 */
import type { Model } from '../../worker/protocol/models'

/** The slice of Web Storage the recent folders use. */
export interface FolderStorage {
  getItem(key: string): string | null
  setItem(key: string, value: string): void
}

export interface ThreadRunSettings {
  cwd: string
  model: string
  modelProvider: string
  effort: string | null
}

/** The start/resume/fork response fields this reads. */
export interface SettingsResponse {
  cwd: string
  model: string
  modelProvider: string
  reasoningEffort?: string | null
}

export const RECENT_FOLDERS_KEY = 'codex-desk.recentFolders'
const MAX_RECENT = 8

export class ThreadSettingsState {
  private readonly byThread = new Map<string, ThreadRunSettings>()
  private readonly listeners = new Set<() => void>()
  /** null until model/list answered. */
  models: Model[] | null = null
  recentFolders: string[]

  constructor(private readonly storage: FolderStorage | null = null) {
    this.recentFolders = this.readRecent()
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  private emit(): void {
    for (const listener of [...this.listeners]) listener()
  }

  of(threadId: string | null | undefined): ThreadRunSettings | undefined {
    return threadId ? this.byThread.get(threadId) : undefined
  }

  fromResponse(threadId: string, response: SettingsResponse): void {
    this.byThread.set(threadId, {
      cwd: response.cwd,
      model: response.model,
      modelProvider: response.modelProvider,
      effort: response.reasoningEffort ?? null,
    })
    this.emit()
  }

  fromUpdate(
    threadId: string,
    settings: { cwd: string; model: string; modelProvider: string; effort?: string | null },
  ): void {
    this.fromResponse(threadId, { ...settings, reasoningEffort: settings.effort ?? null })
  }

  /** A Thread's own fields (thread/read): its model, provider, effort and folder now. */
  fromThread(thread: {
    id: string
    cwd: string
    model?: string | null
    modelProvider: string
    reasoningEffort?: string | null
  }): void {
    if (!thread.model) return
    const before = this.byThread.get(thread.id)
    const next = {
      cwd: thread.cwd,
      model: thread.model,
      modelProvider: thread.modelProvider,
      effort: thread.reasoningEffort ?? null,
    }
    if (before && JSON.stringify(before) === JSON.stringify(next)) return
    this.byThread.set(thread.id, next)
    this.emit()
  }

  setModels(models: Model[]): void {
    this.models = models
    this.emit()
  }

  /** The catalog entry for a model id, if listed. */
  model(id: string): Model | undefined {
    return this.models?.find((m) => m.id === id || m.model === id)
  }

  /** The efforts a model supports (empty when it is not in the catalog or has none). */
  effortsFor(modelId: string): string[] {
    return this.model(modelId)?.supportedReasoningEfforts.map((e) => e.reasoningEffort) ?? []
  }

  /** Puts a folder first in the recent list (and the page's storage). */
  rememberFolder(folder: string): void {
    const next = [folder, ...this.recentFolders.filter((f) => f !== folder)].slice(0, MAX_RECENT)
    if (next.join('\n') === this.recentFolders.join('\n')) return
    this.recentFolders = next
    this.writeRecent()
    this.emit()
  }

  forgetFolder(folder: string): void {
    if (!this.recentFolders.includes(folder)) return
    this.recentFolders = this.recentFolders.filter((f) => f !== folder)
    this.writeRecent()
    this.emit()
  }

  private readRecent(): string[] {
    try {
      const parsed: unknown = JSON.parse(this.storage?.getItem(RECENT_FOLDERS_KEY) ?? '[]')
      return Array.isArray(parsed)
        ? parsed.filter((f): f is string => typeof f === 'string' && f !== '').slice(0, MAX_RECENT)
        : []
    } catch {
      return []
    }
  }

  private writeRecent(): void {
    try {
      this.storage?.setItem(RECENT_FOLDERS_KEY, JSON.stringify(this.recentFolders))
    } catch {
      // A full or blocked storage only loses the memory of recent folders.
    }
  }
}

/** The folder to start a new thread in: the most recent one, or the core's own when none. */
export function defaultFolder(state: ThreadSettingsState): string | null {
  return state.recentFolders[0] ?? null
}
