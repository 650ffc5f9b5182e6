/**
 * The window's size and position across runs: read once when the window opens (clamped to a display
 * that exists now, so a window last seen on an unplugged monitor comes back on screen), saved as the
 * user moves or resizes it (debounced) and when it closes. Electron is behind two small interfaces
 * (a key-value store, the window's events and bounds), so the tests drive it with stand-ins. It
 * never throws at a caller: a broken saved value is ignored, a failed write only logged.
 */

export interface Rect {
  x: number
  y: number
  width: number
  height: number
}

export interface SavedWindowState {
  bounds: Rect
  maximized: boolean
}

/** What the window opens with: a size, a position when one is known, and whether to maximize. */
export interface InitialWindowState {
  width: number
  height: number
  x?: number
  y?: number
  maximized: boolean
}

export const DEFAULT_WINDOW_SIZE = { width: 1200, height: 800 } as const
export const MIN_WINDOW_SIZE = { width: 640, height: 420 } as const
/** How much of the window must overlap a display for it to stay where it was. */
const MIN_VISIBLE = { width: 120, height: 60 } as const

function isRect(value: unknown): value is Rect {
  if (typeof value !== 'object' || value === null) return false
  const r = value as Record<string, unknown>
  return ['x', 'y', 'width', 'height'].every((k) => typeof r[k] === 'number' && Number.isFinite(r[k]))
}

export function parseWindowState(value: unknown): SavedWindowState | null {
  if (typeof value !== 'object' || value === null) return null
  const { bounds, maximized } = value as { bounds?: unknown; maximized?: unknown }
  if (!isRect(bounds) || bounds.width <= 0 || bounds.height <= 0) return null
  return { bounds: { ...bounds }, maximized: maximized === true }
}

function overlap(a: Rect, b: Rect): { width: number; height: number } {
  const width = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x)
  const height = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y)
  return { width: Math.max(0, width), height: Math.max(0, height) }
}

function clampSize(size: number, min: number, max: number): number {
  return Math.round(Math.max(Math.min(size, max), Math.min(min, max)))
}

/**
 * Where the window opens, given the saved state and the work areas of the displays now (the
 * primary first). Without a saved state: the default size, centred by the system. A saved window
 * that no display shows enough of moves to the centre of the primary display; one that does stays
 * on the display that shows most of it, shrunk to fit and moved fully inside it.
 */
export function initialWindowState(
  saved: SavedWindowState | null,
  workAreas: readonly Rect[],
): InitialWindowState {
  const primary = workAreas[0]
  if (!saved || !primary) {
    const width = primary
      ? clampSize(DEFAULT_WINDOW_SIZE.width, MIN_WINDOW_SIZE.width, primary.width)
      : DEFAULT_WINDOW_SIZE.width
    const height = primary
      ? clampSize(DEFAULT_WINDOW_SIZE.height, MIN_WINDOW_SIZE.height, primary.height)
      : DEFAULT_WINDOW_SIZE.height
    return { width, height, maximized: saved?.maximized ?? false }
  }
  const { bounds } = saved
  let best: Rect | null = null
  let bestArea = 0
  for (const area of workAreas) {
    const o = overlap(bounds, area)
    if (o.width >= MIN_VISIBLE.width && o.height >= MIN_VISIBLE.height && o.width * o.height > bestArea) {
      best = area
      bestArea = o.width * o.height
    }
  }
  const display = best ?? primary
  const width = clampSize(bounds.width, MIN_WINDOW_SIZE.width, display.width)
  const height = clampSize(bounds.height, MIN_WINDOW_SIZE.height, display.height)
  let x: number
  let y: number
  if (best) {
    x = Math.min(Math.max(bounds.x, display.x), display.x + display.width - width)
    y = Math.min(Math.max(bounds.y, display.y), display.y + display.height - height)
  } else {
    x = display.x + Math.round((display.width - width) / 2)
    y = display.y + Math.round((display.height - height) / 2)
  }
  return { width, height, x: Math.round(x), y: Math.round(y), maximized: saved.maximized }
}

/** How far each further window opens down and right of one already there. */
export const CASCADE_STEP = 28

function sameCorner(a: { x: number; y: number }, b: { x: number; y: number }): boolean {
  return Math.abs(a.x - b.x) < CASCADE_STEP / 2 && Math.abs(a.y - b.y) < CASCADE_STEP / 2
}

/**
 * Where a further window opens, given where it would open alone (`initialWindowState`) and the
 * bounds of the windows already open: one step down and right while an open window has (nearly) the
 * same top-left corner, staying inside the display it opens on; where the next step would leave
 * that display, the cascade starts again at the display's top-left corner (shifted by the rounds
 * done, so it does not land on the first window again). A window without a position (none saved)
 * takes the first open window's; a maximized one is left as it is (it fills its display).
 */
export function cascadeWindowState(
  initial: InitialWindowState,
  open: readonly Rect[],
  workAreas: readonly Rect[],
): InitialWindowState {
  if (open.length === 0 || initial.maximized) return initial
  const first = open[0] as Rect
  let x = initial.x ?? first.x
  let y = initial.y ?? first.y
  const { width, height } = initial
  const display =
    workAreas.find((a) => x >= a.x && y >= a.y && x < a.x + a.width && y < a.y + a.height) ??
    workAreas[0] ??
    null
  let round = 0
  // Bounded: there are only so many places; after that the window may share a corner.
  for (let tries = 0; tries < 200 && open.some((r) => sameCorner(r, { x, y })); tries++) {
    x += CASCADE_STEP
    y += CASCADE_STEP
    if (display && (x + width > display.x + display.width || y + height > display.y + display.height)) {
      round += 1
      x = display.x + ((round * CASCADE_STEP) % Math.max(1, display.width - width + 1))
      y = display.y
    }
  }
  if (display) {
    x = Math.min(Math.max(x, display.x), display.x + Math.max(0, display.width - width))
    y = Math.min(Math.max(y, display.y), display.y + Math.max(0, display.height - height))
  }
  return { ...initial, x: Math.round(x), y: Math.round(y) }
}

/** The slice of electron-store (or conf) used here. */
export interface StateStore {
  get(key: string): unknown
  set(key: string, value: unknown): void
}

/** The slice of a BrowserWindow watched here. */
export interface TrackedWindow {
  on(event: 'resize' | 'move' | 'maximize' | 'unmaximize' | 'close', listener: () => void): unknown
  /** The bounds when neither maximized nor minimized (what a restored window gets back). */
  getNormalBounds(): Rect
  isMaximized(): boolean
  isDestroyed(): boolean
}

export const WINDOW_STATE_KEY = 'mainWindow'

export class WindowStateKeeper {
  private timer: ReturnType<typeof setTimeout> | undefined

  constructor(
    private readonly options: {
      store: StateStore
      log: { warn(fields: object, message: string): void }
      debounceMs?: number
    },
  ) {}

  /** The saved state, or null when there is none (or it is not a state). */
  saved(): SavedWindowState | null {
    try {
      return parseWindowState(this.options.store.get(WINDOW_STATE_KEY))
    } catch {
      return null
    }
  }

  /** Saves the window's bounds as it moves and resizes (debounced) and once more as it closes. */
  track(window: TrackedWindow): void {
    const later = () => {
      clearTimeout(this.timer)
      this.timer = setTimeout(() => this.save(window), this.options.debounceMs ?? 400)
    }
    for (const event of ['resize', 'move', 'maximize', 'unmaximize'] as const) window.on(event, later)
    window.on('close', () => {
      clearTimeout(this.timer)
      this.save(window)
    })
  }

  save(window: TrackedWindow): void {
    if (window.isDestroyed()) return
    const state: SavedWindowState = { bounds: window.getNormalBounds(), maximized: window.isMaximized() }
    try {
      this.options.store.set(WINDOW_STATE_KEY, state)
    } catch (error) {
      this.options.log.warn({ error: String(error) }, 'could not save the window position')
    }
  }
}
