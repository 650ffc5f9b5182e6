import { describe, expect, it } from 'vitest'
import { looksLikePatch, parsePatch, PatchParseError } from '../../src/worker/agent/patch/parse'
import {
  APPLY_PATCH_TOOL_NAME,
  applyPatchToolSpec,
  patchTextFromArguments,
} from '../../src/worker/agent/patch/spec'

const wrap = (body: string): string => `*** Begin Patch\n${body}\n*** End Patch`

const parseError = (text: string): string => {
  try {
    parsePatch(text)
  } catch (err) {
    expect(err).toBeInstanceOf(PatchParseError)
    return (err as Error).message
  }
  throw new Error('expected a parse error')
}

describe('parsePatch', () => {
  it('parses an added file with a newline after every line', () => {
    expect(parsePatch(wrap('*** Add File: a/new.txt\n+one\n+two'))).toEqual([
      { type: 'add', path: 'a/new.txt', contents: 'one\ntwo\n' },
    ])
  })

  it('parses a deleted file', () => {
    expect(parsePatch(wrap('*** Delete File: old.txt'))).toEqual([{ type: 'delete', path: 'old.txt' }])
  })

  it('parses an update with context, removed and added lines', () => {
    expect(parsePatch(wrap('*** Update File: src/app.py\n@@ def greet():\n keep\n-old\n+new'))).toEqual([
      {
        type: 'update',
        path: 'src/app.py',
        movePath: null,
        chunks: [
          {
            changeContext: 'def greet():',
            oldLines: ['keep', 'old'],
            newLines: ['keep', 'new'],
            isEndOfFile: false,
          },
        ],
      },
    ])
  })

  it('parses a move directly after the update header', () => {
    const [hunk] = parsePatch(wrap('*** Update File: src/app.py\n*** Move to: src/main.py\n@@\n-a\n+b'))
    expect(hunk).toMatchObject({ type: 'update', path: 'src/app.py', movePath: 'src/main.py' })
  })

  it('lets the first chunk of a file omit the @@ line', () => {
    const [hunk] = parsePatch(wrap('*** Update File: f.py\n import foo\n+bar'))
    expect(hunk).toEqual({
      type: 'update',
      path: 'f.py',
      movePath: null,
      chunks: [
        {
          changeContext: null,
          oldLines: ['import foo'],
          newLines: ['import foo', 'bar'],
          isEndOfFile: false,
        },
      ],
    })
  })

  it('splits chunks on each @@ line and marks an end-of-file chunk', () => {
    const [hunk] = parsePatch(wrap('*** Update File: f\n@@ one\n-a\n+b\n@@\n-y\n+z\n*** End of File'))
    expect(hunk?.type === 'update' && hunk.chunks).toEqual([
      { changeContext: 'one', oldLines: ['a'], newLines: ['b'], isEndOfFile: false },
      { changeContext: null, oldLines: ['y'], newLines: ['z'], isEndOfFile: true },
    ])
  })

  it('reads an empty line inside a chunk as an empty context line', () => {
    const [hunk] = parsePatch(wrap('*** Update File: f\n@@\n a\n\n-b\n+c'))
    expect(hunk?.type === 'update' && hunk.chunks[0]).toMatchObject({
      oldLines: ['a', '', 'b'],
      newLines: ['a', '', 'c'],
    })
  })

  it('parses several hunks in order', () => {
    const hunks = parsePatch(
      wrap('*** Add File: a\n+x\n*** Update File: b\n@@\n+line\n*** Delete File: c\n*** Add File: d\n+y'),
    )
    expect(hunks.map((h) => `${h.type}:${h.path}`)).toEqual(['add:a', 'update:b', 'delete:c', 'add:d'])
  })

  it('accepts a patch wrapped in a heredoc, quoted or not', () => {
    for (const open of ["<<'EOF'", '<<EOF', '<<"EOF"', "apply_patch <<'EOF'"]) {
      const text = `${open}\n${wrap('*** Delete File: x')}\nEOF\n`
      expect(parsePatch(text)).toEqual([{ type: 'delete', path: 'x' }])
    }
  })

  it('tolerates surrounding whitespace, padded markers and CRLF line ends', () => {
    const text = '\n  *** Begin Patch  \r\n*** Add File: f\r\n+hi\r\n  *** End Patch \n\n'
    expect(parsePatch(text)).toEqual([{ type: 'add', path: 'f', contents: 'hi\n' }])
  })

  it('rejects a patch whose first line is not the begin marker', () => {
    expect(parseError('bad\n*** End Patch')).toBe(
      "invalid patch: The first line of the patch must be '*** Begin Patch'",
    )
    expect(parseError('')).toBe("invalid patch: The first line of the patch must be '*** Begin Patch'")
  })

  it('rejects a patch whose last line is not the end marker', () => {
    expect(parseError('*** Begin Patch\n*** Delete File: x')).toBe(
      "invalid patch: The last line of the patch must be '*** End Patch'",
    )
  })

  it('rejects an unknown hunk header with its line number', () => {
    expect(parseError(wrap('*** Delete File: a\n*** Frobnicate File: b'))).toBe(
      "invalid hunk at line 3, '*** Frobnicate File: b' is not a valid hunk header. Valid hunk headers: '*** Add File: {path}', '*** Delete File: {path}', '*** Update File: {path}'",
    )
  })

  it('rejects an update hunk without chunks', () => {
    expect(parseError(wrap('*** Update File: test.py'))).toBe(
      "invalid hunk at line 2, Update file hunk for path 'test.py' is empty",
    )
  })

  it('rejects a chunk line without a diff prefix', () => {
    expect(parseError(wrap('*** Update File: f\n@@\nbad line'))).toBe(
      "invalid hunk at line 4, Unexpected line found in update hunk: 'bad line'. Every line should start with ' ' (context line), '+' (added line), or '-' (removed line)",
    )
  })

  it('rejects a second chunk that does not start with @@', () => {
    expect(parseError(wrap('*** Update File: f\n@@\n-a\n+b\nstray'))).toMatch(
      /^invalid hunk at line 6, Expected update hunk to start with a @@ context marker, got: 'stray'$/,
    )
  })
})

describe('looksLikePatch', () => {
  it('recognises a patch with or without a heredoc wrapper and nothing else', () => {
    expect(looksLikePatch('  *** Begin Patch\n*** End Patch')).toBe(true)
    expect(looksLikePatch("<<'EOF'\n*** Begin Patch\n*** End Patch\nEOF")).toBe(true)
    expect(looksLikePatch('{"input":"*** Begin Patch"}')).toBe(false)
    expect(looksLikePatch('')).toBe(false)
  })
})

describe('the apply_patch tool', () => {
  it('is a non-strict function tool taking one input string', () => {
    expect(applyPatchToolSpec).toMatchObject({
      type: 'function',
      name: APPLY_PATCH_TOOL_NAME,
      strict: false,
      parameters: {
        type: 'object',
        properties: { input: { type: 'string' } },
        required: ['input'],
        additionalProperties: false,
      },
    })
    expect(applyPatchToolSpec.description).toContain('*** Begin Patch')
    expect(applyPatchToolSpec.description).toContain('*** Move to:')
  })

  it('takes the patch from JSON arguments or from a raw freeform patch', () => {
    const patch = wrap('*** Delete File: x')
    expect(patchTextFromArguments(JSON.stringify({ input: patch }))).toBe(patch)
    expect(patchTextFromArguments(patch)).toBe(patch)
  })

  it('rejects arguments that carry no patch', () => {
    for (const args of ['{"patch":"x"}', 'not json', '{"input":3}']) {
      expect(() => patchTextFromArguments(args)).toThrow(
        new PatchParseError('apply_patch arguments must be JSON with an "input" string'),
      )
    }
  })
})
