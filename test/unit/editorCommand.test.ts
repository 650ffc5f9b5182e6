/**
 * The editor command and "open the file at this line": template splitting and validation, and the
 * real launch of a real program (a node script that records its argv to a file) with paths that a
 * shell would mangle or execute, plus the checks that keep anything but a config file from opening.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  EditorCommandError,
  editorArgv,
  editorCommandProblem,
  launchEditor,
  splitEditorCommand,
} from '../../src/main/editorCommand'
import { openFileAt, openableFileProblem } from '../../src/main/openFile'
import { makeTempDir } from '../support/appServerProcess'
import { withTimeout } from '../support/testClient'

let temp: { path: string; remove(): Promise<void> }

beforeEach(async () => {
  // A space in every path: what a shell-joined command line would split.
  temp = await makeTempDir('codex-desk editor ')
})

afterEach(async () => {
  await temp.remove()
})

/** A real "editor": writes its arguments as JSON to the file named by its first argument. */
function recordingEditor(): { template: (args: string) => string; argv: () => Promise<string[]> } {
  const script = join(temp.path, 'fake editor.mjs')
  const out = join(temp.path, 'argv.json')
  writeFileSync(
    script,
    "import { renameSync, writeFileSync } from 'node:fs'\n" +
      'const [out, ...args] = process.argv.slice(2)\n' +
      "writeFileSync(out + '.tmp', JSON.stringify(args))\n" +
      "renameSync(out + '.tmp', out)\n",
  )
  return {
    template: (args) => `"${process.execPath}" "${script}" "${out}" ${args}`,
    argv: () =>
      withTimeout(
        (async () => {
          while (!existsSync(out)) await new Promise((resolve) => setTimeout(resolve, 20))
          return JSON.parse(readFileSync(out, 'utf8')) as string[]
        })(),
        60_000,
        'the editor to record its arguments',
      ),
  }
}

function configFile(name = 'config.toml'): string {
  const path = join(temp.path, name)
  writeFileSync(path, 'model = "x"\n')
  return path
}

describe('splitEditorCommand', () => {
  it.each([
    ['code --goto {path}:{line}:{column}', ['code', '--goto', '{path}:{line}:{column}']],
    ['  vim   +{line}  {path} ', ['vim', '+{line}', '{path}']],
    [
      '"C:\\Program Files\\Editor\\editor.exe" --goto {path}',
      ['C:\\Program Files\\Editor\\editor.exe', '--goto', '{path}'],
    ],
    ["subl '{path}:{line}:{column}'", ['subl', '{path}:{line}:{column}']],
    [
      'emacsclient -n --eval="(goto-line {line})" {path}',
      ['emacsclient', '-n', '--eval=(goto-line {line})', '{path}'],
    ],
    ['edit "" {path}', ['edit', '', '{path}']],
    ['say "it\'s" {path}', ['say', "it's", '{path}']],
  ])('splits %j into %j', (template, words) => {
    expect(splitEditorCommand(template)).toEqual(words)
  })

  it('refuses an unclosed quote', () => {
    expect(() => splitEditorCommand('code "{path}')).toThrow('has an unclosed " quote')
  })
})

describe('editorCommandProblem', () => {
  it.each([
    ['', null],
    ['   ', null],
    ['code --goto {path}:{line}:{column}', null],
    ['code --goto', 'must contain {path} where the file goes, e.g. code --goto {path}:{line}:{column}'],
    ['{path} --line {line}', 'must start with the editor program, not a placeholder'],
    ['code {file}', 'has an unknown placeholder {file} (use {path}, {line} and {column})'],
    ["code '{path}", "has an unclosed ' quote"],
  ])('%j → %j', (template, problem) => {
    expect(editorCommandProblem(template)).toBe(problem)
  })
})

describe('editorArgv', () => {
  it('fills the placeholders inside each word and keeps a path with spaces and braces one argument', () => {
    const path = '/home/me/my {line} project/.codex/config.toml'
    expect(editorArgv('code --goto {path}:{line}:{column} -n', { path, line: 12, column: 7 })).toEqual({
      command: 'code',
      args: ['--goto', `${path}:12:7`, '-n'],
    })
  })

  it('throws a sentence for a template that cannot be used', () => {
    expect(() => editorArgv('code', { path: '/a.toml', line: 1, column: 1 })).toThrow(EditorCommandError)
    expect(() => editorArgv('code', { path: '/a.toml', line: 1, column: 1 })).toThrow(
      'The editor command must contain {path}',
    )
  })
})

describe('launchEditor', () => {
  it('runs the program directly: shell syntax in the path reaches it verbatim and runs nothing', async () => {
    const editor = recordingEditor()
    const path = join(temp.path, 'odd $(touch PWNED) `touch PWNED2`; name.toml')
    await launchEditor(
      editorArgv(editor.template('--goto {path}:{line}:{column}'), { path, line: 3, column: 9 }),
    )
    expect(await editor.argv()).toEqual(['--goto', `${path}:3:9`])
    expect(existsSync(join(temp.path, 'PWNED'))).toBe(false)
    expect(existsSync(join(temp.path, 'PWNED2'))).toBe(false)
    expect(existsSync(join(process.cwd(), 'PWNED'))).toBe(false)
  })

  it('rejects with a sentence naming the program when it does not exist', async () => {
    const missing = join(temp.path, 'no-such-editor')
    await expect(launchEditor({ command: missing, args: ['x'] })).rejects.toThrow(
      `Cannot start the editor: ${missing} was not found. Check Editor command in Settings.`,
    )
  })

  it('rejects when the program is not executable', async () => {
    const notExecutable = join(temp.path, 'editor.txt')
    writeFileSync(notExecutable, 'not a program', { mode: 0o644 })
    await expect(launchEditor({ command: notExecutable, args: [] })).rejects.toThrow(
      `Cannot start the editor: ${notExecutable} is not executable.`,
    )
  })
})

describe('openFileAt', () => {
  const noOpenPath = async (path: string): Promise<string> => {
    throw new Error(`the OS default app must not be asked to open ${path}`)
  }

  it('opens a config file in the editor command at the line and column', async () => {
    const editor = recordingEditor()
    const path = configFile('my config.toml')
    const result = await openFileAt(
      { path, line: 4, column: 2 },
      { editorCommand: () => editor.template('-g {path}:{line}:{column}'), openPath: noOpenPath },
    )
    expect(result).toEqual({ ok: true })
    expect(await editor.argv()).toEqual(['-g', `${path}:4:2`])
  })

  it('without an editor command hands the path to the OS default app', async () => {
    const path = configFile()
    const opened: string[] = []
    const openPath = async (p: string) => {
      opened.push(p)
      return ''
    }
    expect(await openFileAt({ path, line: 1, column: 1 }, { editorCommand: () => '', openPath })).toEqual({
      ok: true,
    })
    expect(opened).toEqual([path])
  })

  it("reports the OS default app's error", async () => {
    const path = configFile()
    const result = await openFileAt(
      { path, line: 1, column: 1 },
      { editorCommand: () => '', openPath: async () => 'No application knows how to open this file' },
    )
    expect(result).toEqual({
      ok: false,
      message: `The system could not open ${path}: No application knows how to open this file`,
    })
  })

  it('reports an editor that cannot be started', async () => {
    const path = configFile()
    const missing = join(temp.path, 'gone')
    const result = await openFileAt(
      { path, line: 1, column: 1 },
      { editorCommand: () => `"${missing}" {path}`, openPath: noOpenPath },
    )
    expect(result).toEqual({
      ok: false,
      message: `Cannot start the editor: ${missing} was not found. Check Editor command in Settings.`,
    })
  })

  it('refuses what a diagnostic cannot point at, before any program runs', async () => {
    const editor = recordingEditor()
    const dir = join(temp.path, 'folder.toml')
    mkdirSync(dir)
    const script = join(temp.path, 'run-me.sh')
    writeFileSync(script, '#!/bin/sh\ntouch PWNED\n', { mode: 0o755 })
    const cases: [string, string][] = [
      ['config.toml', 'Only absolute file paths can be opened, not config.toml.'],
      [join(temp.path, 'missing.toml'), `${join(temp.path, 'missing.toml')} does not exist.`],
      [dir, `${dir} is not a regular file.`],
      [script, `Only configuration files (.toml) can be opened from a diagnostic, not ${script}.`],
      [join(configFile(), 'below.toml'), `${join(temp.path, 'config.toml', 'below.toml')} does not exist.`],
    ]
    for (const [path, message] of cases) {
      expect(await openableFileProblem(path)).toBe(message)
      const result = await openFileAt(
        { path, line: 1, column: 1 },
        { editorCommand: () => editor.template('{path}'), openPath: noOpenPath },
      )
      expect(result).toEqual({ ok: false, message })
    }
    expect(existsSync(join(temp.path, 'argv.json'))).toBe(false)
  })
})
