/** Turn-area request handlers: thin adapters over the TurnController (agent/turns.ts). */
import type { TurnController } from '../agent/turns'
import type { Handler } from './context'

export function turnHandlers(turns: TurnController): {
  'turn/start': Handler<'turn/start'>
  'turn/steer': Handler<'turn/steer'>
  'turn/interrupt': Handler<'turn/interrupt'>
} {
  return {
    'turn/start': (params, ctx) => turns.start(params, ctx),
    'turn/steer': (params) => turns.steer(params),
    'turn/interrupt': (params) => turns.interrupt(params),
  }
}
