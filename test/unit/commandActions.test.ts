import { describe, expect, it } from 'vitest'
import { parseCommandActions, type CommandAction } from '../../src/worker/agent/exec/commandActions'

const read = (command: string, name: string, path: string): CommandAction => ({
  type: 'read',
  command,
  name,
  path,
})
const list = (command: string, path: string | null): CommandAction => ({ type: 'listFiles', command, path })
const search = (command: string, query: string | null, path: string | null): CommandAction => ({
  type: 'search',
  command,
  query,
  path,
})
const unknown = (command: string): CommandAction => ({ type: 'unknown', command })

describe('parseCommandActions', () => {
  const table: [string, CommandAction[]][] = [
    // Reads
    ['cat webview/README.md', [read('cat webview/README.md', 'README.md', 'webview/README.md')]],
    ['cat -- ./-odd', [read('cat -- ./-odd', '-odd', './-odd')]],
    ['head -n 50 Cargo.toml', [read('head -n 50 Cargo.toml', 'Cargo.toml', 'Cargo.toml')]],
    ['head -n50 Cargo.toml', [read('head -n50 Cargo.toml', 'Cargo.toml', 'Cargo.toml')]],
    ['tail -n +522 README.md', [read('tail -n +522 README.md', 'README.md', 'README.md')]],
    ['tail README.md', [read('tail README.md', 'README.md', 'README.md')]],
    [
      "sed -n '2000,2200p' tui/src/cell.rs",
      [read('sed -n 2000,2200p tui/src/cell.rs', 'cell.rs', 'tui/src/cell.rs')],
    ],
    ['less -p TODO README.md', [read('less -p TODO README.md', 'README.md', 'README.md')]],
    ['nl -ba src/main.rs', [read('nl -ba src/main.rs', 'main.rs', 'src/main.rs')]],
    ["awk '{print $1}' Cargo.toml", [read("awk '{print $1}' Cargo.toml", 'Cargo.toml', 'Cargo.toml')]],
    // A sed range in a pipeline is part of what was read, so the whole pipeline is the command.
    [
      "nl -ba core/src/parse.rs | sed -n '1200,1720p'",
      [read("nl -ba core/src/parse.rs | sed -n '1200,1720p'", 'parse.rs', 'core/src/parse.rs')],
    ],
    // `cd` is dropped and folded into the path that is read after it.
    ['cd foo && cat foo.txt', [read('cat foo.txt', 'foo.txt', 'foo/foo.txt')]],
    ['cd a && cd b && cat /etc/hosts', [read('cat /etc/hosts', 'hosts', '/etc/hosts')]],
    // Listing
    ['ls -la', [list('ls -la', null)]],
    ['ls -la | sed -n 1,120p', [list('ls -la', null)]],
    ['ls -I "*.test.js" src', [list("ls -I '*.test.js' src", 'src')]],
    ['tree -L 2 src', [list('tree -L 2 src', 'src')]],
    ['find src -type f', [list('find src -type f', 'src')]],
    ['rg --files webview/src | head -n 50', [list('rg --files webview/src', 'webview')]],
    ['fd -t f src/', [list('fd -t f src/', 'src')]],
    ['git ls-files src', [list('git ls-files src', 'src')]],
    ['true && rg --files', [list('rg --files', null)]],
    ['rg --files || true', [list('rg --files', null)]],
    ['cd codex-rs && rg --files', [list('rg --files', null)]],
    // Searching
    ['rg -n "navigate-to-route" -S', [search('rg -n navigate-to-route -S', 'navigate-to-route', null)]],
    ['rg -n "BUG|FIXME" -S | head -n 200', [search("rg -n 'BUG|FIXME' -S", 'BUG|FIXME', null)]],
    [
      'grep -R CODEX_SANDBOX -n core/src/spawn.rs',
      [search('grep -R CODEX_SANDBOX -n core/src/spawn.rs', 'CODEX_SANDBOX', 'spawn.rs')],
    ],
    ['grep -R src/main.rs -n .', [search('grep -R src/main.rs -n .', 'src/main.rs', '.')]],
    ['grep -e pattern file.txt', [search('grep -e pattern file.txt', 'pattern', 'file.txt')]],
    ['git grep TODO src', [search('git grep TODO src', 'TODO', 'src')]],
    ['ag TODO src', [search('ag TODO src', 'TODO', 'src')]],
    ['fd main src', [search('fd main src', 'main', 'src')]],
    ["find . -name '*.rs'", [search("find . -name '*.rs'", '*.rs', '.')]],
    ['echo start && rg foo', [search('rg foo', 'foo', null)]],
    // Several actions, in order
    ['cat a.txt && rg foo src', [read('cat a.txt', 'a.txt', 'a.txt'), search('rg foo src', 'foo', 'src')]],
    // Anything unknown makes the whole script one unknown action, as in codex.
    ['npm run build', [unknown('npm run build')]],
    ['git status', [unknown('git status')]],
    ['git status | wc -l', [unknown('git status | wc -l')]],
    ['cat a.txt && npm test', [unknown('cat a.txt && npm test')]],
    ['echo foo > bar', [unknown('echo foo > bar')]],
    ['cat $(ls)', [unknown('cat $(ls)')]],
    ['cat a b', [unknown('cat a b')]],
    ['cd foo', [unknown('cd foo')]],
    ['wc -l', [unknown('wc -l')]],
    [
      "rg -l Old src | xargs perl -pi -e 's/Old/New/g'",
      [unknown("rg -l Old src | xargs perl -pi -e 's/Old/New/g'")],
    ],
    ['', [unknown('')]],
  ]

  for (const [script, expected] of table) {
    it(`summarizes ${JSON.stringify(script)}`, () => {
      expect(parseCommandActions(script)).toEqual(expected)
    })
  }

  it('always returns at least one action', () => {
    for (const script of ['', ';', '&&', 'cd', '"', '|||']) {
      expect(parseCommandActions(script).length).toBeGreaterThan(0)
    }
  })
})
