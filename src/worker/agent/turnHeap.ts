/**
 * Keeps a long thread's memory flat from turn to turn. Two things grow a Node process's resident
 * memory over many turns even when what it keeps does not (bench/turnMemory.ts: +50 to +70 MiB from
 * turn 50 to 200 with under 1 MiB more live heap):
 * - the old generation fills with what outlived a young collection (a turn's objects in flight)
 *   until it is several times its live size before V8 collects it;
 * - the young generation grows, a doubling at a time, up to 2 x 16 MiB.
 * At the end of each turn (the user reads the answer: the process is idle), `afterTurn` asks for a
 * full collection once the old generation is HEAP_STEP above what the last one kept, through
 * `vm.measureMemory` (a public API whose eager mode runs one; no `--expose-gc`), and stops the young
 * generation from growing past YOUNG_CAP (V8 reads `--semi-space-growth-factor` whenever it grows
 * it; it still shrinks it when the process idles, and `beforeTurn` lets it grow again then). A long
 * streaming turn is left alone: nothing here runs while a turn streams.
 *
 * It never throws, never waits, and touches V8 flags only on a process's main thread (the desktop
 * core's utility process and the CLI; tests run the core in a worker thread of the test runner).
 */
import { measureMemory } from 'node:vm'
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8'
import { isMainThread } from 'node:worker_threads'

const MiB = 1024 * 1024
/** Old-generation growth over the last full collection's result that asks for the next one. */
export const HEAP_STEP = 1 * MiB
/** Young generation (both semi-spaces) at which it stops growing: 2 x 4 MiB instead of 2 x 16. */
export const YOUNG_CAP = 8 * MiB

interface Sizes {
  old: number
  young: number
}

function sizes(): Sizes {
  let old = 0
  let young = 0
  for (const space of getHeapSpaceStatistics()) {
    if (space.space_name === 'new_space') young = space.space_size
    else if (space.space_name !== 'new_large_object_space') old += space.space_used_size
  }
  return { old, young }
}

export class TurnHeap {
  /** The old generation's size after the last collection this asked for (or at the first turn). */
  private floor: number | null = null
  private collecting = false
  private youngFrozen = false

  constructor(private readonly flags = isMainThread) {}

  /**
   * At a turn's start: growth is allowed again if V8 shrank the young generation meanwhile (it does
   * when the process idles), so a turn that streams never runs in a small, frozen one.
   */
  beforeTurn(): void {
    try {
      if (this.flags && this.youngFrozen) this.capYoung(sizes().young)
    } catch {
      // As afterTurn.
    }
  }

  afterTurn(): void {
    try {
      const { old, young } = sizes()
      if (this.flags) this.capYoung(young)
      if (this.floor === null) this.floor = old
      else if (old > this.floor + HEAP_STEP && !this.collecting) this.collect()
    } catch {
      // Only memory is at stake: never a turn.
    }
  }

  private capYoung(young: number): void {
    const freeze = young >= YOUNG_CAP
    if (freeze === this.youngFrozen) return
    this.youngFrozen = freeze
    setFlagsFromString(`--semi-space-growth-factor=${freeze ? 1 : 2}`)
  }

  private collect(): void {
    this.collecting = true
    const done = () => {
      this.collecting = false
      this.floor = sizes().old
    }
    measureMemory({ mode: 'summary', execution: 'eager' }).then(done, done)
  }
}

/** One per process: every thread's turns share the heap. */
export const turnHeap = new TurnHeap()
