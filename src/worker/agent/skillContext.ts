/**
 * Skills as the model meets them, following codex 0.169: the skills found for the thread's folder
 * (agent/skills.ts, the same discovery `skills/list` uses) are listed, by name, description and
 * `SKILL.md` path, in a `<skills_instructions>` section of the first context's developer message;
 * a skill the user names with `$name` (or `[$name](path)`) in the text, or picks with a `skill`
 * input, has its `SKILL.md` sent whole, wrapped in `<skill>`, as a user message after the user's.
 * A `mention` input injects nothing (codex only resolves skills from text and `skill` inputs).
 *
 * It must never fail a turn: a skill that does not parse is left out of the list (skills/list
 * reports it), and one that cannot be read when named is skipped with a log line. It never invents
 * a skill the disk does not hold.
 */
import { readFile, realpath } from 'node:fs/promises'
import type { SkillMetadata } from '../protocol/extensions'
import type { Turn, UserInput } from '../protocol/items'
import type { Logger } from '../util/log'

/** The characters the skill lines may take before descriptions are shortened (codex's default). */
export const SKILL_LIST_BUDGET = 8_000

/** `$NAME` words that are environment variables, not skills (codex's list). */
const ENV_WORDS = new Set([
  'PATH',
  'HOME',
  'USER',
  'SHELL',
  'PWD',
  'TMPDIR',
  'TEMP',
  'TMP',
  'LANG',
  'TERM',
  'XDG_CONFIG_HOME',
])
const NAME_CHAR = /[A-Za-z0-9_:-]/

/** The skills usable in `cwd`, in skills/list's order; never throws (no skills on any failure). */
export async function skillsFor(home: string, cwd: string, log?: Logger): Promise<SkillMetadata[]> {
  try {
    // Loaded when a turn first needs it, like the tools: not on the threads subsystem's cold start.
    const { SkillsCatalog } = await import('./skills')
    const catalog = new SkillsCatalog({ home, watch: false, ...(log ? { log } : {}) })
    const [entry] = await catalog.list([cwd])
    catalog.dispose()
    return (entry?.skills ?? []).filter((skill) => skill.enabled)
  } catch (error) {
    log?.warn({ cwd, err: (error as Error).message }, 'could not look for skills')
    return []
  }
}

const skillLine = (skill: SkillMetadata, description: string) =>
  description === ''
    ? `- ${skill.name}: (file: ${skill.path})`
    : `- ${skill.name}: ${description} (file: ${skill.path})`

/**
 * The list's lines within `budget` characters: whole when they fit; else every description cut to
 * one common length (the longest that fits); else names and paths only, as many as fit.
 */
export function skillLines(skills: readonly SkillMetadata[], budget = SKILL_LIST_BUDGET): string[] {
  const cost = (lines: string[]) => lines.reduce((sum, line) => sum + [...line].length + 1, 0)
  const full = skills.map((skill) => skillLine(skill, skill.description))
  if (cost(full) <= budget) return full
  const bare = skills.map((skill) => skillLine(skill, ''))
  if (cost(bare) <= budget) {
    const cut = (length: number) =>
      skills.map((skill) => {
        const chars = [...skill.description]
        return skillLine(skill, chars.length > length ? chars.slice(0, length).join('') : skill.description)
      })
    let low = 0
    let high = Math.max(...skills.map((skill) => [...skill.description].length))
    while (low < high) {
      const mid = Math.ceil((low + high) / 2)
      if (cost(cut(mid)) <= budget) low = mid
      else high = mid - 1
    }
    return cut(low)
  }
  const kept: string[] = []
  let used = 0
  for (const line of bare) {
    if (used + [...line].length + 1 > budget) break
    used += [...line].length + 1
    kept.push(line)
  }
  return kept
}

/** The `<skills_instructions>` text for the first context, or null when there are no skills. */
export function skillsInstructions(skills: readonly SkillMetadata[]): string | null {
  if (skills.length === 0) return null
  return [
    '<skills_instructions>',
    '## Skills',
    'Skills are task guides kept on this machine, one per `SKILL.md` file. Each entry below gives ' +
      "a skill's name, what it is for, and the absolute path of its `SKILL.md`.",
    '### Available skills',
    ...skillLines(skills),
    '### How to use skills',
    '- When the user names a skill (`$name` or in plain words), or the task plainly fits a ' +
      "skill's description, use that skill for this turn; use every skill named. A skill does not " +
      'carry over to later turns unless it is named again.',
    '- Open the `SKILL.md` and read as much as you need to follow it. Paths it mentions are ' +
      'relative to the folder holding it; open only the files it points to that the task needs.',
    '- Prefer running or adapting scripts and templates a skill ships over rewriting them.',
    '- Say in one short line which skill you are using. If a named skill is not listed or its ' +
      'file cannot be read, say so and carry on as well as you can.',
    '</skills_instructions>',
  ].join('\n')
}

/**
 * The mentions in a text, as codex reads them: `[$name](path)` links (their paths) and bare `$name`
 * words (their names); `$PATH`-like environment variables are not mentions.
 */
export function textMentions(text: string): { plain: Set<string>; paths: Set<string> } {
  const plain = new Set<string>()
  const paths = new Set<string>()
  let i = 0
  while (i < text.length) {
    if (text[i] === '[' && text[i + 1] === '$') {
      const linked = /^\[\$([A-Za-z0-9_:-]+)\]\s*\(([^)]*)\)/.exec(text.slice(i))
      const path = linked?.[2]?.trim() ?? ''
      if (linked && path !== '') {
        if (!ENV_WORDS.has((linked[1] as string).toUpperCase())) paths.add(path)
        i += linked[0].length
        continue
      }
    }
    if (text[i] !== '$' || !NAME_CHAR.test(text[i + 1] ?? '')) {
      i++
      continue
    }
    let end = i + 2
    while (end < text.length && NAME_CHAR.test(text[end] as string)) end++
    const name = text.slice(i + 1, end)
    if (!ENV_WORDS.has(name.toUpperCase())) plain.add(name)
    i = end
  }
  return { plain, paths }
}

const realOrSame = (path: string) => realpath(path).catch(() => path)

/**
 * The skills a user message names, in codex's order: `skill` inputs (matched by path), then for
 * each text its linked paths and its bare names. A bare name counts only when exactly one skill
 * has it and no `skill` input of the message used it; each skill is taken once.
 */
export async function mentionedSkills(
  input: readonly UserInput[],
  skills: readonly SkillMetadata[],
): Promise<SkillMetadata[]> {
  const chosen: SkillMetadata[] = []
  const seenPaths = new Set<string>()
  const seenNames = new Set<string>()
  const take = (skill: SkillMetadata) => {
    seenPaths.add(skill.path)
    seenNames.add(skill.name)
    chosen.push(skill)
  }
  const byPath = async (path: string) => {
    const candidates = new Set([path, await realOrSame(path)])
    return skills.find((skill) => candidates.has(skill.path) && !seenPaths.has(skill.path))
  }
  const blocked = new Set<string>()
  for (const part of input) {
    if (part.type !== 'skill') continue
    blocked.add(part.name)
    const skill = await byPath(part.path)
    if (skill) take(skill)
  }
  const counts = new Map<string, number>()
  for (const skill of skills) counts.set(skill.name, (counts.get(skill.name) ?? 0) + 1)
  for (const part of input) {
    if (part.type !== 'text') continue
    const { plain, paths } = textMentions(part.text)
    for (const path of paths) {
      if (/^(app|mcp|plugin):\/\//.test(path)) continue
      const skill = await byPath(path.replace(/^skill:\/\//, ''))
      if (skill) take(skill)
    }
    for (const skill of skills) {
      if (seenPaths.has(skill.path) || seenNames.has(skill.name) || blocked.has(skill.name)) continue
      if (plain.has(skill.name) && counts.get(skill.name) === 1) take(skill)
    }
  }
  return chosen
}

/** The user message that hands the model a skill's whole `SKILL.md`. */
export function skillMessageText(skill: Pick<SkillMetadata, 'name' | 'path'>, contents: string): string {
  return `<skill>\n<name>${skill.name}</name>\n<path>${skill.path}</path>\n${contents}\n</skill>`
}

const userText = (text: string) => ({
  type: 'message',
  role: 'user',
  content: [{ type: 'input_text', text }],
})

/**
 * The messages injecting the skills a user message names, leaving out those whose text is in
 * `already` (sent earlier in the same turn). A file that cannot be read is skipped and logged.
 */
export async function skillInjections(
  input: readonly UserInput[],
  skills: readonly SkillMetadata[],
  already: ReadonlySet<string>,
  log?: Logger,
): Promise<unknown[]> {
  const out: unknown[] = []
  for (const skill of await mentionedSkills(input, skills)) {
    let contents: string
    try {
      contents = await readFile(skill.path, 'utf8')
    } catch (error) {
      log?.warn({ skill: skill.name, path: skill.path, err: (error as Error).message }, 'cannot read a skill')
      continue
    }
    const text = skillMessageText(skill, contents)
    if (!already.has(text)) out.push(userText(text))
  }
  return out
}

/** A developer message of several texts (codex puts the skills list and permissions in one). */
export function developerMessageOf(texts: readonly string[]) {
  return { type: 'message', role: 'developer', content: texts.map((text) => ({ type: 'input_text', text })) }
}

/** The thread as far as skills need it: its history and the turn's user input. */
export interface SkillThread {
  history: readonly { turnId: string | null; item: unknown }[]
  running?: { turn: Turn } | null
  turns?: readonly Turn[]
}

/** The texts of this turn's user messages already in the history (skill messages sent before). */
function turnUserTexts(history: SkillThread['history'], turnId: string): Set<string> {
  const texts = new Set<string>()
  for (const { turnId: id, item } of history) {
    const message = item as { type?: unknown; role?: unknown; content?: unknown }
    if (id !== turnId || message.type !== 'message' || message.role !== 'user') continue
    if (!Array.isArray(message.content)) continue
    for (const part of message.content as { text?: unknown }[]) {
      if (typeof part.text === 'string') texts.add(part.text)
    }
  }
  return texts
}

/**
 * The skill messages to record before a turn's first request: one per skill the turn's user
 * messages name, none already recorded. Skills are looked up only when something may name one.
 */
export async function turnSkillMessages(
  thread: SkillThread,
  turnId: string,
  cwd: string,
  home: string,
  log?: Logger,
): Promise<unknown[]> {
  const turn =
    thread.running?.turn.id === turnId ? thread.running.turn : thread.turns?.find((t) => t.id === turnId)
  const input: UserInput[] = []
  for (const item of turn?.items ?? []) if (item.type === 'userMessage') input.push(...item.content)
  const mayName = input.some(
    (part) => part.type === 'skill' || (part.type === 'text' && part.text.includes('$')),
  )
  if (!mayName) return []
  const skills = await skillsFor(home, cwd, log)
  return skillInjections(input, skills, turnUserTexts(thread.history, turnId), log)
}
