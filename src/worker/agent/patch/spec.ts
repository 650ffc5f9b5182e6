/**
 * The apply_patch tool as the model sees it: its Responses API definition and the unwrapping of
 * its call arguments into patch text. The description teaches the format codex models were
 * trained on, so edits arrive in a form `parsePatch` reads. This module must never parse hunks or
 * touch files; it only gets the patch text out of the call.
 */
import { looksLikePatch, PatchParseError } from './parse'

export const APPLY_PATCH_TOOL_NAME = 'apply_patch'

const DESCRIPTION = `Edit files by sending a patch. One patch may add, delete, update and rename several files; either every change in it applies or none does.

The patch is plain text wrapped in an envelope:

*** Begin Patch
[one or more file operations]
*** End Patch

Each file operation starts with one of these headers:

*** Add File: <path>       create a file (an existing one is overwritten); every following line is its content prefixed with +
*** Delete File: <path>    remove an existing file; nothing follows
*** Update File: <path>    change an existing file; may be followed directly by "*** Move to: <new path>" to rename it

An update is made of hunks. Each hunk starts with @@, optionally followed by a line that locates it (such as the class or function the change is in, e.g. "@@ def greet():"). Every line of a hunk then starts with one character:
  ' ' (a space)  context: an unchanged line that must match the file
  -              a line to remove
  +              a line to add
Show about 3 lines of context above and below each change, without repeating context between nearby changes. When that is not enough to make the place unique, add @@ lines naming the enclosing class or function. Put "*** End of File" after a hunk that must match the end of the file.

Example:

*** Begin Patch
*** Add File: docs/hello.txt
+Hello, world
*** Update File: src/app.py
*** Move to: src/main.py
@@ def greet():
-    print("Hi")
+    print("Hello, world!")
*** Delete File: obsolete.txt
*** End Patch

Paths are relative to the working directory; never use absolute paths. Prefix every new line with +, including every line of an added file.`

export const applyPatchToolSpec: {
  type: 'function'
  name: string
  description: string
  strict: boolean
  parameters: Record<string, unknown>
} = {
  type: 'function',
  name: APPLY_PATCH_TOOL_NAME,
  description: DESCRIPTION,
  strict: false,
  parameters: {
    type: 'object',
    properties: {
      input: { type: 'string', description: 'The entire contents of the apply_patch command' },
    },
    required: ['input'],
    additionalProperties: false,
  },
}

/** The patch text of a call: `{"input": …}` JSON, or the raw patch a freeform call sends. */
export function patchTextFromArguments(args: string): string {
  let parsed: unknown
  try {
    parsed = JSON.parse(args)
  } catch {
    if (looksLikePatch(args)) return args
    parsed = undefined
  }
  if (typeof parsed === 'object' && parsed !== null && 'input' in parsed) {
    const input = (parsed as { input: unknown }).input
    if (typeof input === 'string') return input
  }
  if (typeof parsed === 'string' && looksLikePatch(parsed)) return parsed
  throw new PatchParseError('apply_patch arguments must be JSON with an "input" string')
}
