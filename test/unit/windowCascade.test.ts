/**
 * A further window (src/main/windowState.ts `cascadeWindowState`) opens down and right of those
 * already open instead of on top of them, and never off the display it opens on.
 */
import { describe, expect, it } from 'vitest'
import { CASCADE_STEP, cascadeWindowState, initialWindowState } from '../../src/main/windowState'

const laptop = { x: 0, y: 0, width: 1440, height: 900 }
const monitor = { x: 1440, y: 0, width: 2560, height: 1440 }

describe('a second window', () => {
  it('opens where the first would when no window is open', () => {
    const alone = { x: 100, y: 50, width: 1000, height: 700, maximized: false }
    expect(cascadeWindowState(alone, [], [laptop])).toEqual(alone)
  })

  it('opens one step down and right of the first, and the third one further', () => {
    const saved = { bounds: { x: 100, y: 50, width: 1000, height: 700 }, maximized: false }
    const initial = initialWindowState(saved, [laptop])
    const first = { x: 100, y: 50, width: 1000, height: 700 }
    const second = cascadeWindowState(initial, [first], [laptop])
    expect(second).toEqual({
      x: 100 + CASCADE_STEP,
      y: 50 + CASCADE_STEP,
      width: 1000,
      height: 700,
      maximized: false,
    })
    const third = cascadeWindowState(initial, [first, { ...first, x: second.x!, y: second.y! }], [laptop])
    expect(third).toMatchObject({ x: 100 + 2 * CASCADE_STEP, y: 50 + 2 * CASCADE_STEP })
  })

  it('takes the first window as the start when no position was saved', () => {
    const initial = initialWindowState(null, [laptop])
    const first = { x: 120, y: 50, width: 1200, height: 800 }
    expect(cascadeWindowState(initial, [first], [laptop])).toMatchObject({
      x: 120 + CASCADE_STEP,
      y: 50 + CASCADE_STEP,
    })
  })

  it('stays fully on the display: at its bottom-right edge the cascade starts again at the top', () => {
    const initial = { x: 440, y: 200, width: 1000, height: 700, maximized: false }
    const first = { x: 440, y: 200, width: 1000, height: 700 }
    const next = cascadeWindowState(initial, [first], [laptop])
    expect(next.x! + next.width).toBeLessThanOrEqual(laptop.x + laptop.width)
    expect(next.y! + next.height).toBeLessThanOrEqual(laptop.y + laptop.height)
    expect(next.x! >= laptop.x && next.y! >= laptop.y).toBe(true)
    expect({ x: next.x, y: next.y }).not.toEqual({ x: first.x, y: first.y })
  })

  it('cascades on the display the window opens on (a second monitor)', () => {
    const initial = { x: 1500, y: 40, width: 1200, height: 800, maximized: false }
    const next = cascadeWindowState(
      initial,
      [{ x: 1500, y: 40, width: 1200, height: 800 }],
      [laptop, monitor],
    )
    expect(next).toMatchObject({ x: 1500 + CASCADE_STEP, y: 40 + CASCADE_STEP })
  })

  it('does not end up on a window already there, even with many open', () => {
    const initial = { x: 0, y: 0, width: 1000, height: 700, maximized: false }
    const open: { x: number; y: number; width: number; height: number }[] = []
    for (let i = 0; i < 12; i++) {
      const next = cascadeWindowState(initial, open, [laptop])
      expect(open.some((r) => r.x === next.x && r.y === next.y)).toBe(false)
      expect(next.x! + next.width).toBeLessThanOrEqual(1440)
      expect(next.y! + next.height).toBeLessThanOrEqual(900)
      open.push({ x: next.x!, y: next.y!, width: next.width, height: next.height })
    }
  })

  it('leaves a maximized window as it is', () => {
    const initial = { x: 0, y: 0, width: 1440, height: 900, maximized: true }
    expect(cascadeWindowState(initial, [{ x: 0, y: 0, width: 1440, height: 900 }], [laptop])).toEqual(initial)
  })
})
