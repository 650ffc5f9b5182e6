/**
 * The rollout folders' names under the home, apart from the code that reads them, so the
 * start-up cleaning (which the desktop app's main process also loads) can skip them without
 * pulling in the rollout parser. Names only: it must never import anything.
 */
export const SESSIONS_DIR = 'sessions'
export const ARCHIVED_DIR = 'archived_sessions'
