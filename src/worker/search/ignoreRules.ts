/**
 * `.gitignore` and `.ignore` rules as the file search reads them (codex uses ripgrep's `ignore`
 * crate): blank lines and `#` comments skipped, `!` re-includes, a trailing `/` matches directories
 * only, a `/` elsewhere anchors the pattern to the file's directory, `*`, `?`, `[...]` and `**`.
 * Deeper files and `.ignore` (over `.gitignore`) win; within a file the last matching line wins.
 *
 * It must never touch the filesystem: the walker reads the files and hands their text here.
 */

export interface IgnoreRule {
  regex: RegExp
  negate: boolean
  dirOnly: boolean
}

/** The rules of one directory: paths are tested relative to it. */
export interface IgnoreScope {
  /** The directory, relative to the walk's root with `/` separators ('' for the root). */
  base: string
  rules: IgnoreRule[]
}

function classToRegex(glob: string, start: number): [string, number] | null {
  let index = start + 1
  let out = '['
  if (glob[index] === '!' || glob[index] === '^') {
    out += '^'
    index++
  }
  if (glob[index] === ']') {
    out += '\\]'
    index++
  }
  while (index < glob.length && glob[index] !== ']') {
    const char = glob[index] as string
    out += char === '\\' || char === '[' ? `\\${char}` : char
    index++
  }
  if (index >= glob.length) return null
  return [`${out}]`, index + 1]
}

function globToRegex(glob: string): string {
  let out = ''
  let index = 0
  while (index < glob.length) {
    const char = glob[index] as string
    if (char === '*') {
      if (glob[index + 1] === '*') {
        const atStart = index === 0 || glob[index - 1] === '/'
        const atEnd = index + 2 === glob.length || glob[index + 2] === '/'
        if (atStart && atEnd) {
          if (index + 2 === glob.length) out += '.*'
          else out += '(?:.*/)?'
          index += index + 2 === glob.length ? 2 : 3
          continue
        }
      }
      out += '[^/]*'
      index++
    } else if (char === '?') {
      out += '[^/]'
      index++
    } else if (char === '[') {
      const parsed = classToRegex(glob, index)
      if (parsed) {
        out += parsed[0]
        index = parsed[1]
      } else {
        out += '\\['
        index++
      }
    } else if (char === '\\' && index + 1 < glob.length) {
      out += (glob[index + 1] as string).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
      index += 2
    } else {
      out += char.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
      index++
    }
  }
  return out
}

/** Parses the text of one ignore file. */
export function parseIgnoreFile(text: string): IgnoreRule[] {
  const rules: IgnoreRule[] = []
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.replace(/(?<!\\)\s+$/, '')
    if (line === '' || line.startsWith('#')) continue
    let negate = false
    if (line.startsWith('!')) {
      negate = true
      line = line.slice(1)
    } else if (line.startsWith('\\!') || line.startsWith('\\#')) line = line.slice(1)
    let dirOnly = false
    if (line.endsWith('/')) {
      dirOnly = true
      line = line.replace(/\/+$/, '')
    }
    if (line === '') continue
    const anchored = line.includes('/')
    if (line.startsWith('/')) line = line.slice(1)
    const body = globToRegex(line)
    try {
      rules.push({ regex: new RegExp(anchored ? `^${body}$` : `^(?:.*/)?${body}$`), negate, dirOnly })
    } catch {
      // A line git would reject too: skip it.
    }
  }
  return rules
}

/**
 * Whether `relative` (from the walk's root, `/` separators) is ignored under the scopes that apply
 * to it, outermost first. Returns the verdict of the last matching rule, or false.
 */
export function isIgnored(scopes: readonly IgnoreScope[], relative: string, isDir: boolean): boolean {
  for (let s = scopes.length - 1; s >= 0; s--) {
    const scope = scopes[s] as IgnoreScope
    const local = scope.base === '' ? relative : relative.slice(scope.base.length + 1)
    for (let r = scope.rules.length - 1; r >= 0; r--) {
      const rule = scope.rules[r] as IgnoreRule
      if (rule.dirOnly && !isDir) continue
      if (rule.regex.test(local)) return !rule.negate
    }
  }
  return false
}
