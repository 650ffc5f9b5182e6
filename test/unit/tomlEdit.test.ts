import { afterEach, describe, expect, it, vi } from 'vitest'
import toml from 'toml'
import {
  applyEditsToValue,
  applyTomlEdits,
  TomlEditError,
  tomlInlineValue,
  tomlKey,
  type TomlEdit,
} from '../../src/worker/config/tomlEdit'

const path = (key: string | string[]): string[] => (Array.isArray(key) ? key : key.split('.'))
const set = (key: string | string[], value: unknown): TomlEdit => ({
  path: path(key),
  value,
  mergeStrategy: 'replace',
})
const upsert = (key: string | string[], value: unknown): TomlEdit => ({
  path: path(key),
  value,
  mergeStrategy: 'upsert',
})
const remove = (key: string | string[]): TomlEdit => ({
  path: path(key),
  value: null,
  mergeStrategy: 'replace',
})

/** JSON-shaped copy: plain prototypes, Dates as strings, so toEqual compares content only. */
const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value))

afterEach(() => {
  vi.restoreAllMocks()
})

describe('applyTomlEdits', () => {
  it('keeps comments, blank lines and odd spacing byte for byte outside the edited value', () => {
    const text = [
      '# Codex settings',
      'a   =  1  # note',
      '',
      '',
      '# Flags below',
      '[features]   # flags',
      '  web_search   = true',
      '',
    ].join('\n')
    expect(applyTomlEdits(text, [set('a', 2)])).toBe(
      [
        '# Codex settings',
        'a   =  2  # note',
        '',
        '',
        '# Flags below',
        '[features]   # flags',
        '  web_search   = true',
        '',
      ].join('\n'),
    )
  })

  it('replaces a scalar inside a section', () => {
    const text = '[features]\nweb_search = true # beta\nother = 1\n'
    expect(applyTomlEdits(text, [set('features.web_search', false)])).toBe(
      '[features]\nweb_search = false # beta\nother = 1\n',
    )
  })

  it('appends a new key after the last key of an existing section, keeping its indentation', () => {
    const text = '[features]\n  a = true # on\n\n# TUI settings\n[tui]\ntheme = "dark"\n'
    expect(applyTomlEdits(text, [set('features.collaboration_modes', false)])).toBe(
      '[features]\n  a = true # on\n  collaboration_modes = false\n\n# TUI settings\n[tui]\ntheme = "dark"\n',
    )
  })

  it('creates a new provider section after the other providers, before the next commented section', () => {
    const text = 'model = "o3"\n\n[model_providers.openai]\nname = "OpenAI"\n\n# TUI\n[tui]\ntheme = "dark"\n'
    expect(
      applyTomlEdits(text, [
        upsert('model_providers.local', {
          name: 'Local',
          base_url: 'http://localhost:11434/v1',
          env: { A: '1' },
        }),
      ]),
    ).toBe(
      'model = "o3"\n\n[model_providers.openai]\nname = "OpenAI"\n\n' +
        '[model_providers.local]\nname = "Local"\nbase_url = "http://localhost:11434/v1"\nenv = { A = "1" }\n\n' +
        '# TUI\n[tui]\ntheme = "dark"\n',
    )
  })

  it('creates a section at the end of the file for a key under a table that does not exist yet', () => {
    const text = 'model = "o3"\n'
    expect(applyTomlEdits(text, [set('profiles.fast.model', 'o4-mini')])).toBe(
      'model = "o3"\n\n[profiles.fast]\nmodel = "o4-mini"\n',
    )
    expect(applyTomlEdits(text, [set('features', { web_search: true })])).toBe(
      'model = "o3"\n\n[features]\nweb_search = true\n',
    )
  })

  it('writes a dotted key into the deepest existing section above the path', () => {
    const text = '[model_providers]\n# providers\n'
    expect(applyTomlEdits(text, [set('model_providers.local.base_url', 'http://x')])).toBe(
      '[model_providers]\nlocal.base_url = "http://x"\n# providers\n',
    )
  })

  it('writes new top-level keys after the last top-level key, or before the first section', () => {
    expect(applyTomlEdits('model = "o3" # m\n\n[tui]\n', [set('approval_policy', 'never')])).toBe(
      'model = "o3" # m\napproval_policy = "never"\n\n[tui]\n',
    )
    expect(applyTomlEdits('# Codex\n\n[tui]\n', [set('model', 'o3')])).toBe(
      '# Codex\n\nmodel = "o3"\n\n[tui]\n',
    )
  })

  it('upsert merges into an existing table while replace drops the keys it does not name', () => {
    const text = '[mcp_servers.docs]\ncommand = "npx" # how\nargs = ["docs"]\n'
    expect(applyTomlEdits(text, [upsert('mcp_servers.docs', { command: 'node', enabled: true })])).toBe(
      '[mcp_servers.docs]\ncommand = "node" # how\nargs = ["docs"]\nenabled = true\n',
    )
    expect(applyTomlEdits(text, [set('mcp_servers.docs', { command: 'node', enabled: true })])).toBe(
      '[mcp_servers.docs]\ncommand = "node" # how\nenabled = true\n',
    )
  })

  it('treats null members of an upsert as removals', () => {
    const text = '[tui]\ntheme = "dark"\nnotifications = true\n'
    expect(applyTomlEdits(text, [upsert('tui', { theme: null, animations: false })])).toBe(
      '[tui]\nnotifications = true\nanimations = false\n',
    )
  })

  it('removes a key-value line and keeps the comment above it', () => {
    const text = '[features]\n# web search is in beta\nweb_search = true # on\nother = 1\n'
    expect(applyTomlEdits(text, [remove('features.web_search')])).toBe(
      '[features]\n# web search is in beta\nother = 1\n',
    )
  })

  it('removes a section with its sub-sections and its own comment, keeping the next section and its comment', () => {
    const text = [
      'model = "o3"',
      '',
      '# Local provider',
      '[model_providers.local]',
      'name = "Local"',
      '',
      '[model_providers.local.headers]',
      'X = "1"',
      '',
      '# TUI',
      '[tui]',
      'theme = "dark"',
      '',
    ].join('\n')
    expect(applyTomlEdits(text, [remove('model_providers.local')])).toBe(
      'model = "o3"\n\n# TUI\n[tui]\ntheme = "dark"\n',
    )
    expect(applyTomlEdits(text, [remove('tui')])).toBe(
      'model = "o3"\n\n# Local provider\n[model_providers.local]\nname = "Local"\n\n[model_providers.local.headers]\nX = "1"\n',
    )
  })

  it('leaves the text untouched when removing a key that does not exist', () => {
    const text = '# c\na = 1\n'
    expect(applyTomlEdits(text, [remove('b'), remove('a.b.c'), remove('features.x')])).toBe(text)
  })

  it('edits, adds and removes keys inside an inline table', () => {
    const text = 'env = { A = "1", B = "2" } # secrets\n'
    expect(applyTomlEdits(text, [set('env.B', '3')])).toBe('env = { A = "1", B = "3" } # secrets\n')
    expect(applyTomlEdits(text, [set('env.C', 'c')])).toBe('env = { A = "1", B = "2", C = "c" } # secrets\n')
    expect(applyTomlEdits(text, [remove('env.A')])).toBe('env = { B = "2" } # secrets\n')
    expect(applyTomlEdits(text, [remove('env.A'), remove('env.B')])).toBe('env = {} # secrets\n')
  })

  it('replaces a scalar by an inline table when a key is written below it', () => {
    expect(applyTomlEdits('features = 1 # old\n', [set('features.web_search', true)])).toBe(
      'features = { web_search = true } # old\n',
    )
  })

  it('replaces an array of tables by a table when a key is written below it', () => {
    const text = '[[hooks]]\nname = "a"\n\n[[hooks]]\nname = "b"\n\n[tui]\ntheme = "dark"\n'
    expect(applyTomlEdits(text, [set('hooks.enabled', false)])).toBe(
      '[tui]\ntheme = "dark"\n\n[hooks]\nenabled = false\n',
    )
  })

  it('addresses quoted keys such as "my.id" as a single key part and quotes new ones', () => {
    const text = '[model_providers."my.id"]\nbase_url = "http://a"\n'
    expect(
      applyTomlEdits(text, [
        set(['model_providers', 'my.id', 'base_url'], 'http://b'),
        set(['model_providers', 'other id', 'name'], 'Other'),
      ]),
    ).toBe(
      '[model_providers."my.id"]\nbase_url = "http://b"\n\n[model_providers."other id"]\nname = "Other"\n',
    )
  })

  it('extends top-level dotted keys with another dotted key', () => {
    expect(applyTomlEdits('features.a = true\n\n[tui]\n', [set('features.b', false)])).toBe(
      'features.a = true\nfeatures.b = false\n\n[tui]\n',
    )
  })

  it('keeps CRLF line endings in edited and new lines', () => {
    const text = 'a = 1\r\n\r\n[t]\r\nx = 1\r\n'
    expect(applyTomlEdits(text, [set('t.y', 2), set('b', 3), set('u', { z: 'q' }), remove('t.x')])).toBe(
      'a = 1\r\nb = 3\r\n\r\n[t]\r\ny = 2\r\n\r\n[u]\r\nz = "q"\r\n',
    )
  })

  it('writes into an empty file', () => {
    expect(applyTomlEdits('', [set('model', 'o3')])).toBe('model = "o3"\n')
    expect(applyTomlEdits('', [set('features.web_search', true)])).toBe('[features]\nweb_search = true\n')
    expect(applyTomlEdits('', [])).toBe('')
  })

  it('ends the file with a newline when it appends to a file without one', () => {
    expect(applyTomlEdits('[t]\nx = 1', [set('t.y', 1.5)])).toBe('[t]\nx = 1\ny = 1.5\n')
    expect(applyTomlEdits('x = 1', [set('t', {})])).toBe('x = 1\n\n[t]\n')
  })

  it('writes unicode as is and escapes quotes, backslashes and newlines', () => {
    const value = 'héllo 世界 "quoted" C:\\path\nsecond line'
    const out = applyTomlEdits('[tui]\n', [set('tui.greeting', value)])
    expect(out).toBe('[tui]\ngreeting = "héllo 世界 \\"quoted\\" C:\\\\path\\nsecond line"\n')
    expect(toml.parse(out).tui.greeting).toBe(value)
  })

  it('rejects text that is not valid TOML with the line and column', () => {
    expect(() => applyTomlEdits('a = 1\nb = \n', [set('a', 2)])).toThrow(
      new TomlEditError('the file is not valid TOML: Unspecified values are invalid (line 2, column 5)'),
    )
    expect(() => applyTomlEdits('[a]\nx = 1\n[a]\n', [])).toThrow(
      /^the file is not valid TOML: .* \(line 3, column 1\)$/,
    )
  })

  it('rejects values TOML cannot hold before touching the text', () => {
    expect(() => applyTomlEdits('a = 1\n', [set('a', Number.NaN)])).toThrow(TomlEditError)
    expect(() => applyTomlEdits('a = 1\n', [set('a', [1, null])])).toThrow(
      '`a`[1] is null; TOML arrays cannot hold null',
    )
    expect(() => applyTomlEdits('a = 1\n', [set('a', () => 1)])).toThrow(TomlEditError)
    expect(() => applyTomlEdits('a = 1\n', [set([], 1)])).toThrow(
      'the document root can only be set to a table',
    )
  })

  it('refuses to return text that would read back as something other than the edit (the safety net)', () => {
    const realParse = toml.parse.bind(toml)
    // A parser that loses `b` stands in for any way the written text could mean something else.
    vi.spyOn(toml, 'parse').mockImplementation((input, options) =>
      realParse(input.includes('b = 2') ? 'a = 1' : input, options),
    )
    expect(() => applyTomlEdits('a = 1\n', [set('b', 2)])).toThrow(
      new TomlEditError(
        'could not express the edit to `b` in TOML: the result would read back as a different value',
      ),
    )
  })

  describe('reads every result back as the value applyEditsToValue computes', () => {
    const base = [
      '# Codex configuration',
      'model = "o3"   # default model',
      'approval_policy = "on-request"',
      'sandbox.mode = "workspace-write"',
      '',
      '[features]',
      'web_search = true   # beta',
      '',
      '[model_providers."my.id"]',
      'name = "Mine"',
      'base_url = "http://localhost:1234/v1"',
      'env = { TOKEN = "x", "odd key" = "y" }',
      'retries = [',
      '  1,',
      '  2,',
      ']',
      '',
      '[[profiles.list]]',
      'name = "a"',
      '',
      '[[profiles.list]]',
      'name = "b"',
      '',
      '# keep me',
      '[tui]',
      'notifications = ["a", "b"]',
      'started = 1979-05-27T07:32:00Z',
      '',
    ].join('\n')

    const cases: [string, TomlEdit[]][] = [
      ['a top-level scalar', [set('model', 'gpt-5')]],
      ['a scalar in a section', [set('features.web_search', false)]],
      ['a new key in a section', [set('features.new_flag', true)]],
      ['a removed key', [remove('features.web_search')]],
      ['a removed section', [remove('features')]],
      [
        'an upsert into a quoted-key section',
        [upsert(['model_providers', 'my.id'], { name: 'Renamed', wire_api: 'x' })],
      ],
      ['a replaced quoted-key section', [set(['model_providers', 'my.id'], { name: 'Only' })]],
      ['an inline table member', [set(['model_providers', 'my.id', 'env', 'TOKEN'], 'z')]],
      ['a new inline table member', [set(['model_providers', 'my.id', 'env', 'NEW'], 'n')]],
      ['a removed quoted inline member', [remove(['model_providers', 'my.id', 'env', 'odd key'])]],
      ['a multi-line array', [set(['model_providers', 'my.id', 'retries'], [3])]],
      ['a dotted top-level table', [set('sandbox.network_access', true)]],
      ['an array of tables replaced inline', [set('profiles.list', [{ name: 'c' }])]],
      ['a key beside an array of tables', [set('profiles.default', 'fast')]],
      ['a removed array of tables', [remove('profiles')]],
      ['a table replaced by a scalar', [set('tui', 'plain')]],
      ['an array turned into a table', [set('tui.notifications.enabled', true)]],
      ['a date', [set('tui.started', new Date('2024-01-02T03:04:05.678Z'))]],
      [
        'a new table with nested values',
        [set('mcp_servers.docs', { command: 'npx', args: ['-y'], env: { A: '1' } })],
      ],
      ['an upsert at the root', [upsert([], { model: 'x', features: { extra: 1 } })]],
      ['numbers', [set('model', 1.5), set('features.big', 2 ** 40), set('features.neg', -3)]],
      ['unicode', [set('approval_policy', 'ünï "q"\n\t\\ ✓')]],
      [
        'a batch',
        [
          remove('features'),
          set('features.web_search', false),
          upsert('tui', { theme: 'light' }),
          set(['model_providers', 'my.id', 'env'], null),
        ],
      ],
    ]

    it.each(cases)('for %s', (_title, edits) => {
      const out = applyTomlEdits(base, edits)
      expect(plain(toml.parse(out))).toEqual(plain(applyEditsToValue(toml.parse(base), edits)))
      expect(out).toContain('# Codex configuration\n')
      if (!edits.some((edit) => edit.path[0] === 'tui' || edit.path.length === 0)) {
        expect(out).toContain('# keep me\n[tui]\nnotifications = ["a", "b"]\n')
      }
    })
  })
})

describe('applyEditsToValue', () => {
  it('upserts, replaces and removes without touching the input', () => {
    const doc = { a: { b: 1, c: 2 }, d: 1 }
    const out = applyEditsToValue(doc, [
      upsert('a', { b: 10, e: 3 }),
      set('d.x', 1),
      remove('a.c'),
      remove('missing.key'),
      set('f', { g: null, h: 1 }),
    ])
    expect(out).toEqual({ a: { b: 10, e: 3 }, d: { x: 1 }, f: { h: 1 } })
    expect(doc).toEqual({ a: { b: 1, c: 2 }, d: 1 })
    expect(applyEditsToValue(doc, [set('a', { z: 1 })])).toEqual({ a: { z: 1 }, d: 1 })
  })
})

describe('tomlInlineValue', () => {
  it('escapes quotes, backslashes and control characters and keeps unicode as is', () => {
    expect(tomlInlineValue('é "q" \\ \n\t\r\u0001\u007f 😀')).toBe(
      '"é \\"q\\" \\\\ \\n\\t\\r\\u0001\\u007F 😀"',
    )
  })

  it('writes integers as integers and other finite numbers as floats', () => {
    expect(tomlInlineValue([1, -0, 1.5, 2.0, 2 ** 53 + 2, 1e21, 1e-7, 10n ** 18n])).toBe(
      '[1, 0, 1.5, 2, 9007199254740994, 1e+21, 1e-7, 1000000000000000000]',
    )
  })

  it('writes arrays and inline tables, quoting keys only when they are not bare', () => {
    expect(tomlInlineValue({ a: 1, 'b c': 'x', 'my.id': [true, { d: [] }], e: {}, skipped: null })).toBe(
      '{ a = 1, "b c" = "x", "my.id" = [true, { d = [] }], e = {} }',
    )
    expect(tomlInlineValue(new Date('2024-01-02T03:04:05Z'))).toBe('2024-01-02T03:04:05.000Z')
  })

  it('rejects NaN, infinities, null inside arrays, undefined, functions and unpaired surrogates', () => {
    expect(() => tomlInlineValue(Number.NaN)).toThrow(TomlEditError)
    expect(() => tomlInlineValue(Number.POSITIVE_INFINITY)).toThrow(TomlEditError)
    expect(() => tomlInlineValue([1, null])).toThrow('the value[1] is null; TOML arrays cannot hold null')
    expect(() => tomlInlineValue(undefined)).toThrow(TomlEditError)
    expect(() => tomlInlineValue({ f: () => 1 })).toThrow(TomlEditError)
    expect(() => tomlInlineValue('\uD800')).toThrow(TomlEditError)
    expect(() => tomlInlineValue(2n ** 63n)).toThrow(TomlEditError)
    expect(() => tomlInlineValue(new Map())).toThrow('the value is a Map, which TOML cannot hold')
  })
})

describe('tomlKey', () => {
  it('leaves bare keys alone and quotes the rest', () => {
    expect(tomlKey('model_providers')).toBe('model_providers')
    expect(tomlKey('a-b_9')).toBe('a-b_9')
    expect(tomlKey('my.id')).toBe('"my.id"')
    expect(tomlKey('')).toBe('""')
    expect(tomlKey('sp ace"q')).toBe('"sp ace\\"q"')
  })
})
