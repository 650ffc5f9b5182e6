import { describe, expect, it } from 'vitest'
import { Emitter } from '../../src/worker/util/event'

describe('Emitter', () => {
  it('reports a throwing listener to onListenerError and still calls the others', () => {
    const errors: unknown[] = []
    const emitter = new Emitter<number>((error) => errors.push(error))
    const seen: number[] = []
    emitter.event(() => {
      throw new Error('boom')
    })
    emitter.event((value) => seen.push(value))
    emitter.fire(7)
    expect(seen).toEqual([7])
    expect(errors).toEqual([new Error('boom')])
  })

  it('lets a listener error escape when no handler was given, and stops calling disposed listeners', () => {
    const emitter = new Emitter<number>()
    const seen: number[] = []
    const subscription = emitter.event((value) => seen.push(value))
    emitter.fire(1)
    subscription.dispose()
    emitter.fire(2)
    expect(seen).toEqual([1])
    emitter.event(() => {
      throw new Error('unguarded')
    })
    expect(() => emitter.fire(3)).toThrow('unguarded')
  })
})
