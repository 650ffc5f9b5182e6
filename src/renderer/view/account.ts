/**
 * Account status (docs/renderer.md, Account): the core's account/read, and in the app the token
 * owner's summary with Sign in / Sign out through the bridge.
 */
import type { DesktopBridge } from '../bridge'
import type { AccountState } from '../state/store'
import { h, replaceChildren } from './dom'

export function accountText(account: AccountState): string {
  const desktop = account.desktop
  if (desktop?.signedIn) {
    return `Signed in as ${desktop.email ?? 'an unknown user'} (${desktop.planType ?? 'unknown plan'})`
  }
  const core = account.core
  if (core === undefined) return desktop ? 'Not signed in' : '…'
  if (core === null) return 'Not signed in'
  if (core.type === 'apiKey') return 'Using an API key'
  return `Signed in as ${core.email ?? 'an unknown user'} (${core.planType})`
}

export class AccountView {
  readonly root = h('div', { 'aria-label': 'Account', role: 'group', class: 'account' })
  private busy = false

  constructor(
    private readonly account: () => AccountState,
    private readonly bridge: DesktopBridge | undefined,
    private readonly setError: (message: string | null) => void,
  ) {}

  private async act(action: () => Promise<{ ok: true } | { ok: false; message: string }>): Promise<void> {
    this.busy = true
    this.setError(null)
    try {
      const result = await action()
      if (!result.ok) this.setError(result.message)
    } catch (error) {
      this.setError((error as Error).message)
    } finally {
      this.busy = false
      this.render()
    }
  }

  render(): void {
    const account = this.account()
    const problem = account.error ?? account.desktop?.problem ?? null
    const bridge = this.bridge
    let button: HTMLButtonElement | null = null
    if (bridge) {
      const signedIn = account.desktop?.signedIn ?? false
      button = h(
        'button',
        {
          type: 'button',
          class: signedIn ? null : 'primary',
          disabled: this.busy,
          onclick: () => void this.act(() => (signedIn ? bridge.account.signOut() : bridge.account.signIn())),
        },
        signedIn ? 'Sign out' : 'Sign in',
      )
    }
    replaceChildren(
      this.root,
      h('span', { class: 'account-text' }, accountText(account)),
      problem ? h('span', { class: 'account-problem', title: problem }, problem) : null,
      button,
    )
  }
}
