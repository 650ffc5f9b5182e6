import { describe, expect, it } from 'vitest'
import { effectiveContextWindow, listModels, pageOf } from '../../src/worker/agent/modelCatalog'
import { modelIdsOf } from '../../src/worker/agent/providerModels'
import { expectCodexShape } from '../support/codexSchema'

describe('the model catalog', () => {
  it('computes the context window codex reports, as measured against codex 0.169.0', () => {
    // Each pair was read from real codex's thread/tokenUsage/updated.
    expect(effectiveContextWindow('gpt-5.1-codex')).toBe(258_400)
    expect(effectiveContextWindow('gpt-6.1-sol')).toBe(258_400)
    expect(effectiveContextWindow('gpt-6.1-terra')).toBe(475_000)
    expect(effectiveContextWindow('gpt-daybreak-red-latest')).toBe(353_400)
    expect(effectiveContextWindow('gpt-6.1-sol', 100_000)).toBe(95_000)
    expect(effectiveContextWindow('gpt-6.1-sol', 2_000_000)).toBe(828_400)
    expect(effectiveContextWindow('gpt-5.5', 2_000_000)).toBe(258_400)
    expect(effectiveContextWindow('my-local-model', 2_000_000)).toBe(258_400)
    expect(effectiveContextWindow('my-local-model', 1001)).toBe(950)
  })

  it('accepts the cursors codex accepts and rejects the others with its messages', () => {
    const models = listModels({
      defaultModel: 'x',
      configuredModel: 'x',
      providerModels: [],
      includeHidden: false,
    })
    expectCodexShape('ModelListResponse', { data: models, nextCursor: null })
    expect(pageOf(models, '+3', 2).data.map((m) => m.id)).toEqual(['gpt-6-luna', 'gpt-5.6-sol'])
    expect(() => pageOf(models, '', null)).toThrow('invalid cursor: ')
    expect(() => pageOf(models, '-1', null)).toThrow('invalid cursor: -1')
    expect(() => pageOf(models, '1.5', null)).toThrow('invalid cursor: 1.5')
    expect(() => pageOf(models, '11', null)).toThrow('cursor 11 exceeds total models 10')
    expect(pageOf([], 'bogus', 3)).toEqual({ data: [], nextCursor: null })
  })
})

describe("a provider's model list", () => {
  it('reads OpenAI-style, Ollama and LM Studio answers and ignores what is not a model id', () => {
    expect(
      modelIdsOf({ object: 'list', data: [{ id: 'llama3.2:3b', object: 'model' }, { id: '' }] }),
    ).toEqual(['llama3.2:3b'])
    expect(modelIdsOf({ models: [{ name: 'qwen2.5:7b' }, { slug: 'a' }, 'b', 42, null] })).toEqual([
      'qwen2.5:7b',
      'a',
      'b',
    ])
    expect(modelIdsOf(['a', 'a', ' b '])).toEqual(['a', 'b'])
    expect(modelIdsOf({ error: 'nope' })).toBeUndefined()
    expect(modelIdsOf('text')).toBeUndefined()
  })
})
