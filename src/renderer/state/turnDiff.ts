/**
 * A past turn's diff, rebuilt from its file changes. codex sends a turn's aggregated diff only while
 * the turn runs (`turn/diff/updated`); neither thread/read nor thread/resume carries it, so a reopened
 * thread builds it from the turn's completed `fileChange` items, one git-style section per file.
 * Pure and DOM-free; it never guesses a change that did not apply (declined or failed items are left out).
 */
import type { ThreadItem } from '../../worker/protocol/items'

type FileChange = Extract<ThreadItem, { type: 'fileChange' }>['changes'][number]

/** `path` relative to `cwd` when it is inside it (as git names files), else as is. */
export function relativePath(path: string, cwd: string | null): string {
  if (!cwd) return path
  const base = cwd.endsWith('/') || cwd.endsWith('\\') ? cwd : `${cwd}/`
  return path.startsWith(base) ? path.slice(base.length) : path
}

function linesOf(text: string): string[] {
  if (text === '') return []
  return (text.endsWith('\n') ? text.slice(0, -1) : text).split('\n')
}

function sectionOf(change: FileChange, cwd: string | null): string {
  const path = relativePath(change.path, cwd)
  switch (change.kind.type) {
    case 'add': {
      const lines = linesOf(change.diff)
      return [
        `diff --git a/${path} b/${path}`,
        'new file mode 100644',
        '--- /dev/null',
        `+++ b/${path}`,
        ...(lines.length ? [`@@ -0,0 +1,${lines.length} @@`, ...lines.map((l) => `+${l}`)] : []),
      ].join('\n')
    }
    case 'delete': {
      const lines = linesOf(change.diff)
      return [
        `diff --git a/${path} b/${path}`,
        'deleted file mode 100644',
        `--- a/${path}`,
        '+++ /dev/null',
        ...(lines.length ? [`@@ -1,${lines.length} +0,0 @@`, ...lines.map((l) => `-${l}`)] : []),
      ].join('\n')
    }
    case 'update': {
      const to = change.kind.move_path ? relativePath(change.kind.move_path, cwd) : path
      const head = [`diff --git a/${path} b/${to}`]
      if (to !== path) head.push(`rename from ${path}`, `rename to ${to}`)
      // The item's diff is the hunks; one that already has file headers keeps them.
      if (!/^--- /m.test(change.diff)) head.push(`--- a/${path}`, `+++ b/${to}`)
      return [...head, ...linesOf(change.diff)].join('\n')
    }
  }
}

/** The turn's diff from its applied file changes, or null when it changed no file. */
export function turnDiffFromItems(items: readonly ThreadItem[], cwd: string | null): string | null {
  const sections: string[] = []
  for (const item of items) {
    if (item.type !== 'fileChange' || item.status !== 'completed') continue
    for (const change of item.changes) sections.push(sectionOf(change, cwd))
  }
  return sections.length ? `${sections.join('\n')}\n` : null
}
