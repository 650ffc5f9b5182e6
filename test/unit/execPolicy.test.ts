/**
 * The exec-policy rules on their own: reading codex's `prefix_rule(...)` files (bad lines reported,
 * never fatal), matching scripts part by part, codex's proposed prefix, and the store's writes.
 */
import { mkdtemp, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { commandDecisions, planCommand, type CommandFacts } from '../../src/worker/agent/approvalPolicy'
import {
  checkCommands,
  commandsForPolicy,
  ExecPolicyStore,
  proposeAmendment,
} from '../../src/worker/agent/execPolicy'
import { allowRuleLine, parseRules } from '../../src/worker/agent/execPolicyRules'

const dirs: string[] = []
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true })
})

async function home(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'codex-desk-rules-'))
  dirs.push(dir)
  return dir
}

const argv = (script: string) => ['/bin/bash', '-lc', script]

describe('rules files', () => {
  it('writes the same line codex writes for an allowed prefix', () => {
    expect(allowRuleLine(['touch', 'made.txt'])).toBe(
      'prefix_rule(pattern=["touch", "made.txt"], decision="allow")',
    )
    expect(allowRuleLine(['echo', 'say "hi"'])).toBe(
      'prefix_rule(pattern=["echo", "say \\"hi\\""], decision="allow")',
    )
  })

  it('reads codex-style rules, including multi-line ones with comments and alternatives', () => {
    const text = [
      '# my rules',
      'prefix_rule(pattern=["touch", "made.txt"], decision="allow")',
      'prefix_rule(',
      '    pattern = ["gh", "pr", ["view", "list"]],  # either',
      '    decision = "prompt",',
      '    justification = "look first",',
      '    match = ["gh pr view 1"],',
      ')',
      "prefix_rule(pattern=['rm'], decision='forbidden')",
    ].join('\n')
    const { rules, problems } = parseRules(text, 'default.rules')
    expect(problems).toEqual([])
    expect(rules.map((r) => [r.line, r.decision, r.pattern, r.justification])).toEqual([
      [2, 'allow', [['touch'], ['made.txt']], null],
      [3, 'prompt', [['gh'], ['pr'], ['view', 'list']], 'look first'],
      [9, 'forbidden', [['rm']], null],
    ])
  })

  it('reports a malformed line with its line number and keeps the rules around it', () => {
    const text = [
      'prefix_rule(pattern=["ls"], decision="allow")',
      'prefix_rule(pattern=["oops", decision="allow")',
      'this is not a rule',
      'prefix_rule(pattern=[], decision="allow")',
      'prefix_rule(pattern=["x"], decision="maybe")',
      'network_rule(host="example.com", protocol="https", decision="allow")',
      'prefix_rule(pattern=["pwd"])',
    ].join('\n')
    const { rules, problems } = parseRules(text, 'default.rules')
    expect(rules.map((r) => r.pattern)).toEqual([[['ls']], [['pwd']]])
    expect(problems.map((p) => p.line)).toEqual([2, 3, 4, 5, 6])
    expect(problems[3]?.message).toMatch(/decision/)
    expect(problems[4]?.message).toMatch(/not supported/)
  })
})

describe('matching', () => {
  const { rules } = parseRules(
    [
      'prefix_rule(pattern=["touch", "made.txt"])',
      'prefix_rule(pattern=["git", "push"], decision="prompt")',
    ].join('\n'),
    'default.rules',
  )

  it('covers a command that starts with an allowed prefix, and nothing shorter or different', () => {
    const check = (script: string) => checkCommands(rules, commandsForPolicy(script, argv(script)).commands)
    expect(check('touch made.txt').allAllowed).toBe(true)
    expect(check('touch made.txt other.txt').allAllowed).toBe(true)
    expect(check("touch 'made.txt'").allAllowed).toBe(true)
    expect(check('touch other.txt').allAllowed).toBe(false)
    expect(check('/usr/bin/touch made.txt').allAllowed).toBe(false)
  })

  it('covers a script with pipes and sequences only when every part is covered', () => {
    const check = (script: string) => checkCommands(rules, commandsForPolicy(script, argv(script)).commands)
    expect(check('touch made.txt && touch made.txt; touch made.txt | touch made.txt').allAllowed).toBe(true)
    expect(check('touch made.txt && rm -rf x').allAllowed).toBe(false)
    expect(check('touch made.txt > out').allAllowed).toBe(false)
    expect(check('touch made.txt $(rm x)').allAllowed).toBe(false)
  })

  it('lets a prompt rule win over an allow rule in the same script', () => {
    const commands = commandsForPolicy('touch made.txt && git push', argv('')).commands
    const check = checkCommands(rules, commands)
    expect(check.allAllowed).toBe(false)
    expect(check.prompt?.rule.pattern).toEqual([['git'], ['push']])
    expect(proposeAmendment(check, commands, () => true)).toBeNull()
  })

  it('proposes the first part no rule covers, as codex does', () => {
    const commands = commandsForPolicy('touch made.txt && mkdir build && touch b', argv('')).commands
    const check = checkCommands(rules, commands)
    expect(proposeAmendment(check, commands, () => true)).toEqual(['mkdir', 'build'])
    expect(proposeAmendment(check, commands, (words) => words[0] !== 'mkdir')).toEqual(['touch', 'b'])
  })

  it('treats a script it cannot read as one command that only an exact rule covers', () => {
    const script = 'echo $(date) > now.txt'
    const { commands, parsed } = commandsForPolicy(script, argv(script))
    expect(parsed).toBe(false)
    expect(commands).toEqual([argv(script)])
  })
})

describe('approval plan with rules', () => {
  const facts: CommandFacts = {
    mode: 'on-request',
    policy: { type: 'readOnly' },
    sandboxAvailable: true,
    knownSafe: false,
    escalate: true,
    justification: 'why',
    approvedForSession: null,
  }

  it('runs an allowed command outside the sandbox without asking, and refuses a forbidden one', () => {
    expect(planCommand({ ...facts, rules: { kind: 'allow' } })).toEqual({ kind: 'run', sandboxed: false })
    expect(planCommand({ ...facts, rules: { kind: 'forbidden', reason: 'no' } })).toEqual({
      kind: 'reject',
      message: 'no',
    })
    expect(planCommand({ ...facts, escalate: false, rules: { kind: 'prompt', reason: 'check' } })).toEqual({
      kind: 'ask',
      sandboxed: true,
      reason: 'check',
    })
    expect(
      planCommand({ ...facts, mode: 'never', rules: { kind: 'prompt', reason: 'check' } }),
    ).toMatchObject({
      kind: 'reject',
    })
  })

  it('offers accept, the prefix rule and cancel in codex order, and accept and cancel for a one-shot', () => {
    expect(commandDecisions(['touch', 'made.txt'], false)).toEqual([
      'accept',
      { acceptWithExecpolicyAmendment: { execpolicy_amendment: ['touch', 'made.txt'] } },
      'cancel',
    ])
    expect(commandDecisions(null, false)).toEqual(['accept', 'cancel'])
    expect(commandDecisions(['touch'], true)).toEqual(['accept', 'cancel'])
  })
})

describe('the rules store', () => {
  it('appends a rule once, with mode 0600, and sees edits made by hand', async () => {
    const store = new ExecPolicyStore(await home())
    expect(await store.allow(['touch', 'made.txt'])).toBe('added')
    expect(await store.allow(['touch', 'made.txt'])).toBe('present')
    expect(await readFile(store.defaultFile, 'utf8')).toBe(
      'prefix_rule(pattern=["touch", "made.txt"], decision="allow")\n',
    )
    expect((await stat(store.defaultFile)).mode & 0o777).toBe(0o600)
    expect((await store.load()).rules).toHaveLength(1)

    await writeFile(store.defaultFile, 'prefix_rule(pattern=["ls"])\nbroken(\n', { mode: 0o600 })
    const loaded = await store.load()
    expect(loaded.rules.map((r) => r.pattern)).toEqual([[['ls']]])
    expect(loaded.problems).toHaveLength(1)
  })

  it('keeps both rules when two stores on one home append at once', async () => {
    const dir = await home()
    const a = new ExecPolicyStore(dir)
    const b = new ExecPolicyStore(dir)
    await Promise.all([a.allow(['one']), b.allow(['two']), a.allow(['three']), b.allow(['four'])])
    const patterns = (await a.load()).rules.map((r) => r.pattern[0]?.[0]).sort()
    expect(patterns).toEqual(['four', 'one', 'three', 'two'])
  })

  it('removes one rule and leaves the rest of the file as it was', async () => {
    const store = new ExecPolicyStore(await home())
    await mkdir(store.dir, { recursive: true })
    await writeFile(
      store.defaultFile,
      '# mine\nprefix_rule(pattern=["a"])\nprefix_rule(\n  pattern=["b"],\n)\nprefix_rule(pattern=["c"])\n',
    )
    const removed = await store.remove((loaded) => loaded.rules.filter((r) => r.pattern[0]?.[0] === 'b'))
    expect(removed).toHaveLength(1)
    expect(await readFile(store.defaultFile, 'utf8')).toBe(
      '# mine\nprefix_rule(pattern=["a"])\nprefix_rule(pattern=["c"])\n',
    )
  })
})
