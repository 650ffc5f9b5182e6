/**
 * The base instructions of a request, chosen as codex 0.169 chooses them: the thread's
 * `baseInstructions` (thread/start, resume or fork), else the file `model_instructions_file` names,
 * else config's `instructions`, else codex-desk's own (prompts/baseInstructions.ts). codex sends them
 * as the first developer message of the input, not as the request's `instructions` field, and so
 * does codex-desk; `developer_instructions` follow as a second developer message.
 *
 * It must never fall back silently when the configured file cannot be read: the turn fails with a
 * message naming the file.
 */
import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import type { LiveThread } from '../threads/liveThread'
import type { ResolvedThreadSettings } from '../threads/threadSettings'
import { developerMessageItem } from './history'
import { BASE_INSTRUCTIONS } from './prompts/baseInstructions'

/** `model_instructions_file`, a path relative to the home folder unless absolute. */
function instructionsFile(settings: ResolvedThreadSettings, home: string): string | null {
  const file = (settings.config as Record<string, unknown>).model_instructions_file
  return typeof file === 'string' && file.trim() !== '' ? resolve(home, file) : null
}

export async function baseInstructions(
  thread: Pick<LiveThread, 'sticky'>,
  settings: ResolvedThreadSettings,
  home: string,
): Promise<string> {
  const fromThread = thread.sticky.baseInstructions
  if (typeof fromThread === 'string') return fromThread
  const file = instructionsFile(settings, home)
  if (file) {
    try {
      return await readFile(file, 'utf8')
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error)
      throw new Error(`could not read model_instructions_file ${file}: ${reason}`, { cause: error })
    }
  }
  return settings.baseInstructions ?? BASE_INSTRUCTIONS
}

/** The developer messages every request starts with. */
export async function leadingMessages(
  thread: Pick<LiveThread, 'sticky'>,
  settings: ResolvedThreadSettings,
  home: string,
): Promise<unknown[]> {
  const out: unknown[] = [developerMessageItem(await baseInstructions(thread, settings, home))]
  if (settings.developerInstructions) out.push(developerMessageItem(settings.developerInstructions))
  return out
}
