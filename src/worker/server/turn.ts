/** Turn-area request handlers: thin adapters over the TurnController (agent/turns.ts). */
import type { ThreadSystem } from '../agent/threadSystem'
import type { Handler } from './context'

export function turnHandlers(system: () => Promise<ThreadSystem>): {
  'turn/start': Handler<'turn/start'>
  'turn/steer': Handler<'turn/steer'>
  'turn/interrupt': Handler<'turn/interrupt'>
} {
  const turns = async () => (await system()).turns
  return {
    'turn/start': async (params, ctx) => (await turns()).start(params, ctx),
    'turn/steer': async (params) => (await turns()).steer(params),
    'turn/interrupt': async (params) => (await turns()).interrupt(params),
  }
}
