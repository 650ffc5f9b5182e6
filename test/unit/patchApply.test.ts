import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  PatchApplyError,
  planPatch,
  summarizeApplied,
  unifiedHunks,
  type PlannedChange,
} from '../../src/worker/agent/patch/apply'
import { commitPatch as commitWithHome } from '../../src/worker/agent/patch/commit'
import { JOURNAL_DIR } from '../../src/worker/agent/patch/journal'
import { parsePatch } from '../../src/worker/agent/patch/parse'
import { TurnDiffTracker } from '../../src/worker/agent/patch/turnDiff'

let dir: string
/** The core's home, beside the project: the patch journal lives in it. */
let home: string

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'codex-desk-patch-'))
  home = await fs.mkdtemp(path.join(os.tmpdir(), 'codex-desk-patch-home-'))
})

afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true })
  await fs.rm(home, { recursive: true, force: true })
})

const commitPatch = (changes: PlannedChange[]): Promise<void> => commitWithHome(changes, { home })
/** What the patch journal folder holds (nothing once a patch finished or failed). */
const journal = (): Promise<string[]> => fs.readdir(path.join(home, JOURNAL_DIR)).catch(() => [])

const wrap = (body: string): string => `*** Begin Patch\n${body}\n*** End Patch`
const at = (rel: string): string => path.join(dir, rel)
const write = async (rel: string, content: string): Promise<void> => {
  await fs.mkdir(path.dirname(at(rel)), { recursive: true })
  await fs.writeFile(at(rel), content)
}
const read = (rel: string): Promise<string> => fs.readFile(at(rel), 'utf8')
const exists = (rel: string): Promise<boolean> =>
  fs.access(at(rel)).then(
    () => true,
    () => false,
  )
const plan = (body: string): Promise<PlannedChange[]> => planPatch(parsePatch(wrap(body)), dir)

/** Plans and commits like the tool does, returning codex's summary for the model. */
const apply = async (body: string, tracker?: TurnDiffTracker): Promise<string> => {
  const changes = await plan(body)
  tracker?.track(changes)
  await commitPatch(changes)
  return summarizeApplied(changes, dir)
}

const applyError = async (body: string): Promise<string> => {
  try {
    await apply(body)
  } catch (err) {
    expect(err).toBeInstanceOf(PatchApplyError)
    return (err as Error).message
  }
  throw new Error('expected the patch to fail')
}

/** Everything under the temp dir, so a failed patch can be shown to have left no trace. */
const listing = async (): Promise<string[]> => (await fs.readdir(dir, { recursive: true })).map(String).sort()

describe('applying patches to real files', () => {
  it('adds a file, creating its parent directories', async () => {
    const summary = await apply('*** Add File: nested/deep/new.txt\n+one\n+two')
    expect(await read('nested/deep/new.txt')).toBe('one\ntwo\n')
    expect(summary).toBe(
      `Success. Updated the following files:\nA ${path.join('nested', 'deep', 'new.txt')}\n`,
    )
  })

  it('overwrites an existing file on add, as codex does', async () => {
    await write('a.txt', 'old\n')
    await apply('*** Add File: a.txt\n+new')
    expect(await read('a.txt')).toBe('new\n')
  })

  it('updates a file and reports the change as a unified diff', async () => {
    await write('app.py', 'def greet():\n    print("Hi")\n\nprint("bye")\n')
    const [change] = await plan(
      '*** Update File: app.py\n@@ def greet():\n-    print("Hi")\n+    print("Hello")',
    )
    expect(change).toMatchObject({
      path: at('app.py'),
      kind: { type: 'update', move_path: null },
      oldContent: 'def greet():\n    print("Hi")\n\nprint("bye")\n',
      newContent: 'def greet():\n    print("Hello")\n\nprint("bye")\n',
    })
    expect(change?.diff).toBe(
      '@@ -1,4 +1,4 @@\n def greet():\n-    print("Hi")\n+    print("Hello")\n \n print("bye")\n',
    )
    await commitPatch([change!])
    expect(await read('app.py')).toBe('def greet():\n    print("Hello")\n\nprint("bye")\n')
  })

  it('deletes a file and carries its old content as the diff', async () => {
    await write('gone.txt', 'bye\n')
    const changes = await plan('*** Delete File: gone.txt')
    expect(changes).toEqual([
      {
        path: at('gone.txt'),
        kind: { type: 'delete' },
        oldContent: 'bye\n',
        newContent: null,
        diff: 'bye\n',
      },
    ])
    await commitPatch(changes)
    expect(await exists('gone.txt')).toBe(false)
    expect(summarizeApplied(changes, dir)).toBe('Success. Updated the following files:\nD gone.txt\n')
  })

  it('moves a file while updating it', async () => {
    await write('src/app.py', 'a\nb\n')
    const summary = await apply('*** Update File: src/app.py\n*** Move to: lib/main.py\n@@\n a\n-b\n+c')
    expect(await exists('src/app.py')).toBe(false)
    expect(await read('lib/main.py')).toBe('a\nc\n')
    expect(summary).toBe(`Success. Updated the following files:\nM ${path.join('lib', 'main.py')}\n`)
  })

  it('lists added, then modified, then deleted files in the summary', async () => {
    await write('m.txt', 'x\n')
    await write('d.txt', 'y\n')
    const summary = await apply(
      '*** Delete File: d.txt\n*** Update File: m.txt\n@@\n-x\n+z\n*** Add File: a.txt\n+new',
    )
    expect(summary).toBe('Success. Updated the following files:\nA a.txt\nM m.txt\nD d.txt\n')
  })

  it('shows paths outside the working directory as absolute', async () => {
    const outside = path.join(path.dirname(dir), `${path.basename(dir)}-outside.txt`)
    try {
      const changes = await plan(`*** Add File: ${outside}\n+x`)
      expect(summarizeApplied(changes, dir)).toBe(`Success. Updated the following files:\nA ${outside}\n`)
    } finally {
      await fs.rm(outside, { force: true })
    }
  })

  it('always ends an updated file with a newline', async () => {
    await write('f.txt', 'one\ntwo')
    await apply('*** Update File: f.txt\n@@\n-two\n+three')
    expect(await read('f.txt')).toBe('one\nthree\n')
  })

  it('applies later hunks on top of earlier hunks for the same file', async () => {
    await write('f.txt', 'a\nb\n')
    await apply('*** Update File: f.txt\n@@\n-a\n+A\n*** Update File: f.txt\n@@\n-b\n+B')
    expect(await read('f.txt')).toBe('A\nB\n')
  })

  it('fails with codex’s message when the file to update is missing', async () => {
    expect(await applyError('*** Update File: nope.txt\n@@\n-a\n+b')).toBe(
      `Failed to read file to update ${at('nope.txt')}: No such file or directory (os error 2)`,
    )
  })

  it('fails with codex’s message when the file to delete is missing', async () => {
    expect(await applyError('*** Delete File: nope.txt')).toBe(`Failed to delete file ${at('nope.txt')}`)
  })
})

describe('locating chunks', () => {
  it('matches lines that differ only in trailing whitespace, writing context as the patch spells it', async () => {
    await write('f.txt', 'alpha   \nbeta\t\n')
    await apply('*** Update File: f.txt\n@@\n alpha\n-beta\n+gamma')
    // codex replaces the whole matched region, context included, with the patch's lines.
    expect(await read('f.txt')).toBe('alpha\ngamma\n')
  })

  it('matches lines that differ only in indentation', async () => {
    await write('f.txt', '    if x:\n        go()\n')
    await apply('*** Update File: f.txt\n@@\n     if x:\n-go()\n+        stop()')
    expect(await read('f.txt')).toBe('    if x:\n        stop()\n')
  })

  it('matches typographic dashes, quotes and non-breaking spaces against ASCII', async () => {
    await write('f.txt', 'range 1\u20132 \u201Cquoted\u201D\u00A0here\nnext\n')
    await apply('*** Update File: f.txt\n@@\n-range 1-2 "quoted" here\n+replaced')
    expect(await read('f.txt')).toBe('replaced\nnext\n')
  })

  it('prefers an exact match later in the file over a loose match earlier', async () => {
    await write('f.txt', 'x  \ny\nx\ny\n')
    await apply('*** Update File: f.txt\n@@\n-x\n+X')
    expect(await read('f.txt')).toBe('x  \ny\nX\ny\n')
  })

  it('seeks the @@ context line before matching the chunk', async () => {
    await write('f.py', 'def a():\n    return 1\n\ndef b():\n    return 1\n')
    await apply('*** Update File: f.py\n@@ def b():\n-    return 1\n+    return 2')
    expect(await read('f.py')).toBe('def a():\n    return 1\n\ndef b():\n    return 2\n')
  })

  it('reports context it cannot find', async () => {
    await write('f.py', 'def a():\n    pass\n')
    expect(await applyError('*** Update File: f.py\n@@ def zzz():\n-    pass\n+    return')).toBe(
      `Failed to find context 'def zzz():' in ${at('f.py')}`,
    )
  })

  it('reports lines it cannot find, with the lines', async () => {
    await write('f.txt', 'a\nb\n')
    expect(await applyError('*** Update File: f.txt\n@@\n-missing\n-too\n+x')).toBe(
      `Failed to find expected lines in ${at('f.txt')}:\nmissing\ntoo`,
    )
  })

  it('anchors an end-of-file chunk at the end of the file', async () => {
    await write('f.txt', 'end\nmiddle\nend\n')
    await apply('*** Update File: f.txt\n@@\n-end\n+last\n*** End of File')
    expect(await read('f.txt')).toBe('end\nmiddle\nlast\n')
  })

  it('appends a pure addition without context at the end of the file', async () => {
    await write('f.txt', 'a\nb\n')
    await apply('*** Update File: f.txt\n@@\n+c')
    expect(await read('f.txt')).toBe('a\nb\nc\n')
  })

  it('inserts a pure addition right after its @@ context line', async () => {
    await write('f.py', 'class A:\n    x = 1\n\nclass B:\n    y = 2\n')
    await apply('*** Update File: f.py\n@@ class A:\n+    w = 0')
    expect(await read('f.py')).toBe('class A:\n    w = 0\n    x = 1\n\nclass B:\n    y = 2\n')
  })

  it('matches a trailing empty old line against the final newline', async () => {
    await write('f.txt', 'a\nb\n')
    await apply('*** Update File: f.txt\n@@\n a\n-b\n+c\n')
    expect(await read('f.txt')).toBe('a\nc\n')
  })
})

describe('all or nothing', () => {
  it('changes nothing when the second file’s hunk does not apply', async () => {
    await write('first.txt', 'one\n')
    await write('second.txt', 'two\n')
    const before = await listing()
    const message = await applyError(
      '*** Update File: first.txt\n@@\n-one\n+ONE\n*** Add File: third.txt\n+3\n*** Update File: second.txt\n@@\n-absent\n+x',
    )
    expect(message).toBe(`Failed to find expected lines in ${at('second.txt')}:\nabsent`)
    expect(await read('first.txt')).toBe('one\n')
    expect(await read('second.txt')).toBe('two\n')
    expect(await listing()).toEqual(before)
  })

  it('restores replaced and removed files when a later write fails', async () => {
    await write('a.txt', 'a\n')
    await write('gone.txt', 'bye\n')
    await write('src/m.txt', 'm\n')
    const changes = await plan(
      [
        '*** Update File: a.txt\n@@\n-a\n+A',
        '*** Delete File: gone.txt',
        '*** Add File: fresh/new.txt\n+n',
        '*** Update File: src/m.txt\n*** Move to: dest/m.txt\n@@\n-m\n+M',
      ].join('\n'),
    )
    // Someone puts a directory where the moved file must land, after the plan was checked.
    await fs.mkdir(at('dest/m.txt/occupied'), { recursive: true })
    const before = await listing()
    const inodeBefore = (await fs.stat(at('a.txt'))).ino

    const err = await commitPatch(changes).then(
      () => null,
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(PatchApplyError)
    expect((err as Error).message).toMatch(
      new RegExp(`^Failed to write file ${at('dest/m.txt').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `),
    )
    expect((err as Error).message).toMatch(/\. No files were modified\.$/)
    // The very file is back (its inode), not a copy of it.
    expect((await fs.stat(at('a.txt'))).ino).toBe(inodeBefore)
    expect(await journal()).toEqual([])
    expect(await read('a.txt')).toBe('a\n')
    expect(await read('gone.txt')).toBe('bye\n')
    expect(await read('src/m.txt')).toBe('m\n')
    expect(await exists('fresh')).toBe(false)
    expect(await listing()).toEqual(before)
  })

  it('leaves no journal, staged file or backup behind after a patch', async () => {
    await write('a.txt', 'a\n')
    await write('gone.txt', 'g\n')
    await apply('*** Update File: a.txt\n@@\n-a\n+A\n*** Delete File: gone.txt\n*** Add File: n/new.txt\n+n')
    expect(await listing()).toEqual(['a.txt', 'n', path.join('n', 'new.txt')])
    expect(await journal()).toEqual([])
  })

  it('touches nothing, in the project or the home, when a patch fails its checks', async () => {
    await write('a.txt', 'a\n')
    const before = await listing()
    await applyError('*** Add File: b.txt\n+b\n*** Update File: a.txt\n@@\n-absent\n+x')
    expect(await listing()).toEqual(before)
    expect(await fs.readdir(home)).toEqual([])
  })

  it('cleans up staged files when a parent directory cannot be created', async () => {
    await write('a.txt', 'a\n')
    const changes = await plan('*** Update File: a.txt\n@@\n-a\n+A\n*** Add File: blocker/x.txt\n+x')
    await write('blocker', 'i am a file\n')
    const before = await listing()
    await expect(commitPatch(changes)).rejects.toThrow(PatchApplyError)
    expect(await read('a.txt')).toBe('a\n')
    expect(await listing()).toEqual(before)
    expect(await journal()).toEqual([])
  })

  it('rejects a commit when a file changed on disk after planning', async () => {
    await write('a.txt', 'a\n')
    await write('b.txt', 'b\n')
    const changes = await plan(
      '*** Add File: new.txt\n+n\n*** Update File: a.txt\n@@\n-a\n+A\n*** Delete File: b.txt',
    )
    await write('b.txt', 'edited elsewhere\n')
    await expect(commitPatch(changes)).rejects.toThrow(
      new PatchApplyError(
        `${at('b.txt')} changed on disk after the patch was checked; no files were modified. Read the file again and retry.`,
      ),
    )
    expect(await read('a.txt')).toBe('a\n')
    expect(await exists('new.txt')).toBe(false)
    expect(await fs.readdir(home)).toEqual([])
  })

  it('keeps an updated file’s permissions', async () => {
    await write('run.sh', 'echo hi\n')
    await fs.chmod(at('run.sh'), 0o751)
    await apply('*** Update File: run.sh\n@@\n-echo hi\n+echo bye')
    expect((await fs.stat(at('run.sh'))).mode & 0o777).toBe(0o751)
  })

  it('writes through a symlink instead of replacing it', async () => {
    await write('real.txt', 'a\n')
    await fs.symlink('real.txt', at('link.txt'))
    await apply('*** Update File: link.txt\n@@\n-a\n+b')
    expect((await fs.lstat(at('link.txt'))).isSymbolicLink()).toBe(true)
    expect(await read('real.txt')).toBe('b\n')
  })

  it('deletes a symlink, not the file it points to', async () => {
    await write('real.txt', 'a\n')
    await fs.symlink('real.txt', at('link.txt'))
    await apply('*** Delete File: link.txt')
    expect(await exists('link.txt')).toBe(false)
    expect(await read('real.txt')).toBe('a\n')
  })
})

describe('per-file diffs', () => {
  it('writes @@ hunks with three lines of context and no file header', () => {
    const old = Array.from({ length: 12 }, (_, i) => `l${i + 1}`).join('\n') + '\n'
    const next = old.replace('l6\n', 'six\n')
    expect(unifiedHunks(old, next)).toBe('@@ -3,7 +3,7 @@\n l3\n l4\n l5\n-l6\n+six\n l7\n l8\n l9\n')
  })

  it('describes insertions into an empty file from line zero', () => {
    expect(unifiedHunks('', 'a\nb\n')).toBe('@@ -0,0 +1,2 @@\n+a\n+b\n')
  })

  it('carries the new file’s content as the diff of an add', async () => {
    const [change] = await plan('*** Add File: n.txt\n+x\n+y')
    expect(change).toEqual({
      path: at('n.txt'),
      kind: { type: 'add' },
      oldContent: null,
      newContent: 'x\ny\n',
      diff: 'x\ny\n',
    })
  })

  it('gives a move its absolute destination', async () => {
    await write('a.txt', 'a\n')
    const [change] = await plan('*** Update File: a.txt\n*** Move to: b/c.txt\n@@\n-a\n+b')
    expect(change?.kind).toEqual({ type: 'update', move_path: at('b/c.txt') })
  })
})

describe('TurnDiffTracker', () => {
  it('is empty before any patch', async () => {
    expect(await new TurnDiffTracker(dir).diff()).toBe('')
  })

  it('shows a file added then updated in one turn as a single new file with its final content', async () => {
    // The index line carries git's blob ids: 4c7442b… is `printf 'one\nthree\n' | git hash-object --stdin`.
    const tracker = new TurnDiffTracker(dir)
    await apply('*** Add File: src/new.txt\n+one\n+two', tracker)
    await apply('*** Update File: src/new.txt\n@@\n one\n-two\n+three', tracker)
    expect(await tracker.diff()).toBe(
      [
        'diff --git a/src/new.txt b/src/new.txt',
        'new file mode 100644',
        'index 0000000000000000000000000000000000000000..4c7442bcf5acd0f1e2a95fe4f12b12c6b779b585',
        '--- /dev/null',
        '+++ b/src/new.txt',
        '@@ -0,0 +1,2 @@',
        '+one',
        '+three',
        '',
      ].join('\n'),
    )
  })

  it('omits a file updated and then reverted', async () => {
    await write('f.txt', 'a\n')
    const tracker = new TurnDiffTracker(dir)
    await apply('*** Update File: f.txt\n@@\n-a\n+b', tracker)
    expect(await tracker.diff()).toContain('diff --git a/f.txt b/f.txt')
    await apply('*** Update File: f.txt\n@@\n-b\n+a', tracker)
    expect(await tracker.diff()).toBe('')
  })

  it('diffs updated and deleted files against their content before the turn, sorted by path', async () => {
    await write('b.txt', 'keep\nold\n')
    await write('a.txt', 'bye\n')
    const tracker = new TurnDiffTracker(dir)
    await apply('*** Update File: b.txt\n@@\n keep\n-old\n+new', tracker)
    await apply('*** Delete File: a.txt', tracker)
    const diff = await tracker.diff()
    expect(diff).toMatch(
      /^diff --git a\/a\.txt b\/a\.txt\ndeleted file mode 100644\nindex [0-9a-f]{40}\.\.0{40}\n--- a\/a\.txt\n\+\+\+ \/dev\/null\n@@ -1,1 \+0,0 @@\n-bye\n/,
    )
    expect(diff).toContain('diff --git a/b.txt b/b.txt\nindex ')
    expect(diff).toContain('--- a/b.txt\n+++ b/b.txt\n@@ -1,2 +1,2 @@\n keep\n-old\n+new\n')
    expect(diff.indexOf('a/a.txt')).toBeLessThan(diff.indexOf('a/b.txt'))
  })

  it('follows a move to show one renamed file', async () => {
    await write('old.txt', 'a\nb\n')
    const tracker = new TurnDiffTracker(dir)
    await apply('*** Update File: old.txt\n*** Move to: mid.txt\n@@\n-a\n+A', tracker)
    await apply('*** Update File: mid.txt\n*** Move to: new.txt\n@@\n-b\n+B', tracker)
    const diff = await tracker.diff()
    expect(diff).toMatch(/^diff --git a\/old\.txt b\/new\.txt\nindex [0-9a-f]{40}\.\.[0-9a-f]{40}\n/)
    expect(diff).toContain('--- a/old.txt\n+++ b/new.txt\n@@ -1,2 +1,2 @@\n-a\n-b\n+A\n+B\n')
    expect(diff).not.toContain('mid.txt')
  })

  it('records the overwritten content as the baseline of an add over an existing file', async () => {
    await write('f.txt', 'before\n')
    const tracker = new TurnDiffTracker(dir)
    await apply('*** Add File: f.txt\n+after', tracker)
    expect(await tracker.diff()).toContain('--- a/f.txt\n+++ b/f.txt\n@@ -1,1 +1,1 @@\n-before\n+after\n')
  })
})
