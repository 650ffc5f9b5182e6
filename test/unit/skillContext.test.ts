/** The skills list within its budget, and the mentions codex reads in a user's text. */
import { describe, expect, it } from 'vitest'
import { skillLines, skillsInstructions, textMentions } from '../../src/worker/agent/skillContext'
import type { SkillMetadata } from '../../src/worker/protocol/extensions'

const skill = (name: string, description: string): SkillMetadata => ({
  name,
  description,
  path: `/skills/${name}/SKILL.md`,
  scope: 'user',
  enabled: true,
  pluginId: null,
})

describe('the skills list', () => {
  it('is absent when there are no skills', () => {
    expect(skillsInstructions([])).toBeNull()
  })

  it('keeps whole lines when they fit, and cuts every description to one length when they do not', () => {
    const skills = [skill('a', 'x'.repeat(50)), skill('b', 'short')]
    expect(skillLines(skills)).toEqual([
      `- a: ${'x'.repeat(50)} (file: /skills/a/SKILL.md)`,
      '- b: short (file: /skills/b/SKILL.md)',
    ])
    const budget = 80
    const cut = skillLines(skills, budget)
    expect(cut.reduce((sum, line) => sum + line.length + 1, 0)).toBeLessThanOrEqual(budget)
    expect(cut).toEqual([
      `- a: ${'x'.repeat(9)} (file: /skills/a/SKILL.md)`,
      '- b: short (file: /skills/b/SKILL.md)',
    ])
  })

  it('drops descriptions, then whole skills, when even names and paths overflow', () => {
    const skills = [skill('a', 'first'), skill('b', 'second'), skill('c', 'third')]
    expect(skillLines(skills, 60)).toEqual(['- a: (file: /skills/a/SKILL.md)'])
  })
})

describe('mentions in a text', () => {
  it('reads $names and linked paths, and skips environment variables', () => {
    const { plain, paths } = textMentions(
      'use $my-skill and [$other](/x/SKILL.md), not $HOME or $PATH; $a:b.',
    )
    expect([...plain]).toEqual(['my-skill', 'a:b'])
    expect([...paths]).toEqual(['/x/SKILL.md'])
  })

  it('takes no lone dollar for a mention', () => {
    expect([...textMentions('costs $ 5').plain]).toEqual([])
    expect([...textMentions('just $').plain]).toEqual([])
  })
})
