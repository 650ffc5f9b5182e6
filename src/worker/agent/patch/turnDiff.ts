/**
 * The aggregated, git-style unified diff of everything a turn's patches changed, for
 * `turn/diff/updated`. It remembers each touched file's content from before the turn first
 * touched it and compares that with what is on disk now, so edits that cancel out vanish and a
 * file added then edited shows as one new file. It must never write to the workspace, and never
 * diff files the turn's patches did not touch.
 */
import { createHash } from 'node:crypto'
import { readFileSync, promises as fs } from 'node:fs'
import { displayPath, unifiedHunks, type PlannedChange } from './apply'

const ZERO_OID = '0000000000000000000000000000000000000000'
const DEV_NULL = '/dev/null'
const REGULAR_FILE_MODE = '100644'

/** Git's blob id, so the `index` line names the same objects `git diff` would. */
function blobOid(content: string): string {
  const bytes = Buffer.from(content, 'utf8')
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex')
}

function readSyncOrNull(file: string): string | null {
  try {
    return readFileSync(file, 'utf8')
  } catch {
    return null
  }
}

async function readOrNull(file: string): Promise<string | null> {
  try {
    return await fs.readFile(file, 'utf8')
  } catch {
    return null
  }
}

export class TurnDiffTracker {
  /** Content before the turn first touched the path; null when the file did not exist. */
  private readonly baseline = new Map<string, string | null>()
  /** For a file that got here by moves: the path it had when the turn first saw it. */
  private readonly originOf = new Map<string, string>()

  constructor(private readonly cwd: string) {}

  /** Call BEFORE commitPatch: records each path's baseline the first time the turn touches it. */
  track(changes: PlannedChange[]): void {
    // Sources of updates and deletes carry their pre-patch content (commitPatch re-checks it
    // against disk); add and move targets may overwrite a file, so read what is there.
    const remember = (path: string, content: () => string | null): void => {
      if (!this.baseline.has(path)) this.baseline.set(path, content())
    }
    for (const change of changes) {
      const { path, kind } = change
      switch (kind.type) {
        case 'add':
          remember(path, () => readSyncOrNull(path))
          this.originOf.delete(path)
          break
        case 'delete':
          remember(path, () => change.oldContent)
          this.originOf.delete(path)
          break
        case 'update': {
          remember(path, () => change.oldContent)
          const dest = kind.move_path
          if (dest === null || dest === path) break
          remember(dest, () => readSyncOrNull(dest))
          const origin = this.originOf.get(path) ?? path
          this.originOf.delete(path)
          this.originOf.delete(dest)
          if (origin !== dest) this.originOf.set(dest, origin)
          break
        }
      }
    }
  }

  /** The turn's diff so far; empty when nothing differs from the baselines. */
  async diff(): Promise<string> {
    const current = new Map<string, string | null>()
    await Promise.all(
      [...this.baseline.keys()].map(async (path) => current.set(path, await readOrNull(path))),
    )

    // A move reads as one file changing name only when the old path is gone and the new one was
    // free before; otherwise it is a delete and an add (or overwrite), as git would show it.
    const renameTo = new Map<string, string>()
    for (const [dest, origin] of this.originOf) {
      if (
        current.get(origin) == null &&
        current.get(dest) != null &&
        this.baseline.get(origin) != null &&
        this.baseline.get(dest) == null
      ) {
        renameTo.set(origin, dest)
      }
    }
    const renamed = new Set(renameTo.values())

    const paths = [...this.baseline.keys()]
      .filter((path) => !renamed.has(path))
      .map((path) => ({ path, shown: this.shown(path) }))
      .sort((a, b) => (a.shown < b.shown ? -1 : a.shown > b.shown ? 1 : 0))

    let out = ''
    for (const { path } of paths) {
      const dest = renameTo.get(path) ?? path
      out += this.render(path, this.baseline.get(path) ?? null, dest, current.get(dest) ?? null)
    }
    return out
  }

  private shown(path: string): string {
    return displayPath(path, this.cwd).replaceAll('\\', '/')
  }

  private render(leftPath: string, left: string | null, rightPath: string, right: string | null): string {
    if (left === right) return ''
    const leftShown = this.shown(leftPath)
    const rightShown = this.shown(rightPath)
    let out = `diff --git a/${leftShown} b/${rightShown}\n`
    if (left === null) out += `new file mode ${REGULAR_FILE_MODE}\n`
    if (right === null) out += `deleted file mode ${REGULAR_FILE_MODE}\n`
    out += `index ${left === null ? ZERO_OID : blobOid(left)}..${right === null ? ZERO_OID : blobOid(right)}\n`
    out += `--- ${left === null ? DEV_NULL : `a/${leftShown}`}\n`
    out += `+++ ${right === null ? DEV_NULL : `b/${rightShown}`}\n`
    out += unifiedHunks(left ?? '', right ?? '')
    return out
  }
}
