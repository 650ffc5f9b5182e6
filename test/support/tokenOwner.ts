/**
 * A token owner for tests that need one but not its sign-in: tokens in a Conf file under `dir`
 * (encrypted with the test cipher), no browser (opening one throws), and no log output.
 */
import Conf from 'conf'
import type { OAuthSettings } from '../../src/main/auth/settings'
import { TokenOwner } from '../../src/main/auth/tokenOwner'
import { TokenStore } from '../../src/main/auth/tokenStore'
import { aesCipher } from './cipher'

export function quietTokenOwner(dir: string, settings: OAuthSettings): TokenOwner {
  return new TokenOwner({
    settings,
    store: new TokenStore(
      new Conf<Record<string, unknown>>({ projectName: 'codex-desk-test', cwd: dir, configName: 'auth' }),
      aesCipher(),
    ),
    openExternal: async () => {
      throw new Error('no browser in this test')
    },
    log: { info: () => {}, warn: () => {}, error: () => {} },
  })
}
