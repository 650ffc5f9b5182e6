/**
 * What main accepts over IPC: one zod schema per bridge function's arguments, and the check that a
 * message comes from the main frame of one of the app's own windows showing the app's own page.
 *
 * The renderer is treated as untrusted input (a compromised page must not reach more than the
 * bridge offers): every argument list is validated here before any handler sees it, and a message
 * from an iframe, a foreign page or a webContents that is not one of our windows is refused.
 * No electron import: the sender is described by plain values, so this runs under Node.
 */
import * as z from 'zod/mini'
import { IPC_INVOKE, type InvokeChannel } from './ipcChannels'

const MAX_PATH_LENGTH = 4096
/** The clipboard gets what the user copies (a token, a `path:line:column`), never megabytes. */
const MAX_COPY_LENGTH = 1024 * 1024

const position = (what: string) =>
  z
    .int({ error: `must be a ${what} number (an integer from 1)` })
    .check(
      z.gte(1, { error: `must be a ${what} number (an integer from 1)` }),
      z.lte(1_000_000_000, { error: `must be a ${what} number (an integer from 1)` }),
    )

export const FileLocationSchema = z.strictObject(
  {
    path: z.string({ error: 'must be a file path' }).check(
      z.minLength(1, { error: 'must be a file path' }),
      z.maxLength(MAX_PATH_LENGTH, { error: `must be at most ${MAX_PATH_LENGTH} characters` }),
      z.refine((path) => !path.includes('\0'), { error: 'must not contain a NUL character' }),
    ),
    line: position('line'),
    column: position('column'),
  },
  { error: 'must be {path, line, column}' },
)

export const CopyTextSchema = z
  .string({ error: 'must be text' })
  .check(z.maxLength(MAX_COPY_LENGTH, { error: 'must be at most 1 MiB of text' }))

/**
 * Only what the settings dialog may change. Values are checked by Settings.update, which names the
 * field. Of `oauth` only the client id may change (desktopIpc.ts checks it); the issuer the tokens
 * go to and `capabilityToken` are deliberately absent.
 */
export const SettingsPatchSchema = z.strictObject(
  {
    webSocketListener: z.optional(z.unknown()),
    editorCommand: z.optional(z.unknown()),
    oauthClientId: z.optional(z.unknown()),
  },
  { error: 'must be an object' },
)

/** A notification's text: a thread title and a short line, never a whole message. */
export const AttentionNoticeSchema = z.strictObject(
  {
    title: z
      .string({ error: 'must be text' })
      .check(z.maxLength(200, { error: 'must be at most 200 characters' })),
    body: z
      .string({ error: 'must be text' })
      .check(z.maxLength(1000, { error: 'must be at most 1000 characters' })),
    threadId: z.optional(
      z
        .string({ error: 'must be a thread id' })
        .check(z.regex(/^[\w.:-]{1,200}$/, { error: 'must be a thread id' })),
    ),
  },
  { error: 'must be {title, body, threadId?}' },
)

export const BadgeCountSchema = z
  .int({ error: 'must be a count (an integer from 0)' })
  .check(
    z.gte(0, { error: 'must be a count (an integer from 0)' }),
    z.lte(9999, { error: 'must be at most 9999' }),
  )

/** Where the folder dialog opens: a path, or null for the dialog's own default. */
export const FolderPathSchema = z.nullable(
  z.string({ error: 'must be a folder path or null' }).check(
    z.maxLength(MAX_PATH_LENGTH, { error: `must be at most ${MAX_PATH_LENGTH} characters` }),
    z.refine((path) => !path.includes('\0'), { error: 'must not contain a NUL character' }),
  ),
)

const none = z.tuple([])

/** The argument list of each invoke channel. */
export const INVOKE_ARGS = {
  [IPC_INVOKE.openFile]: z.tuple([FileLocationSchema]),
  [IPC_INVOKE.copyText]: z.tuple([CopyTextSchema]),
  [IPC_INVOKE.chooseFolder]: z.tuple([FolderPathSchema]),
  [IPC_INVOKE.appInfo]: none,
  [IPC_INVOKE.settingsGet]: none,
  [IPC_INVOKE.settingsUpdate]: z.tuple([SettingsPatchSchema]),
  [IPC_INVOKE.settingsRegenerateToken]: none,
  [IPC_INVOKE.accountSummary]: none,
  [IPC_INVOKE.accountSignIn]: none,
  [IPC_INVOKE.accountSignOut]: none,
  [IPC_INVOKE.coreState]: none,
  [IPC_INVOKE.coreRetry]: none,
  [IPC_INVOKE.attentionNotify]: z.tuple([AttentionNoticeSchema]),
  [IPC_INVOKE.attentionBadge]: z.tuple([BadgeCountSchema]),
} satisfies Record<InvokeChannel, z.ZodMiniType>

export type InvokeArgs<C extends InvokeChannel> = z.output<(typeof INVOKE_ARGS)[C]>

export interface ArgsIssue {
  /** Dotted path inside the argument (e.g. `line`, `webSocketListener`), '' for the whole argument. */
  field: string
  /** What is wrong, without the field: `must be a line number (an integer from 1)`. */
  message: string
  /** The whole phrase: `line must be a line number (an integer from 1)`. */
  text: string
}

/** The first problem with an argument list, named for a person reading it. */
export function describeArgsIssue(error: z.core.$ZodError): ArgsIssue {
  const issue = error.issues[0]
  if (!issue) return { field: '', message: 'is invalid', text: 'the arguments are invalid' }
  if (issue.path.length === 0) {
    const text = issue.code === 'too_big' ? 'too many arguments' : 'too few arguments'
    return { field: '', message: text, text }
  }
  // path[0] is the argument's index in the list; the field is what follows.
  const field = issue.path.slice(1).map(String).join('.')
  if (issue.code === 'unrecognized_keys') {
    // The first unexpected key is the field: enough for the user to see what to take out.
    const key = [field, issue.keys[0] ?? ''].filter(Boolean).join('.')
    return { field: key, message: 'is not accepted', text: `${key} is not accepted` }
  }
  const message = issue.message === 'Invalid input' ? 'is invalid' : issue.message
  return { field, message, text: `${field || 'the argument'} ${message}` }
}

// ── senders ──────────────────────────────────────────────────────────────────────────────────────

/** An IPC message's origin, from `event.sender` and `event.senderFrame`. */
export interface IpcSender {
  webContentsId: number
  /** null when the frame navigated away or was destroyed before main looked. */
  frameUrl: string | null
  isMainFrame: boolean
}

export interface TrustedRenderer {
  /** Whether the webContents belongs to one of the app's windows. */
  isAppWindow(webContentsId: number): boolean
  /** The page the windows load: the built index.html's file URL, or the dev server's URL. */
  rendererUrl: string
}

/**
 * Whether `url` is the app's own page. A file: page must be the same file (query and fragment
 * aside); an http(s) page (the dev server) must be the same origin.
 */
export function isRendererPage(url: string, rendererUrl: string): boolean {
  let page: URL
  let expected: URL
  try {
    page = new URL(url)
    expected = new URL(rendererUrl)
  } catch {
    return false
  }
  if (page.protocol !== expected.protocol) return false
  if (expected.protocol === 'file:') {
    const path = (u: URL) => {
      try {
        return decodeURIComponent(u.pathname)
      } catch {
        return u.pathname
      }
    }
    return page.host === expected.host && path(page) === path(expected)
  }
  if (expected.protocol === 'http:' || expected.protocol === 'https:') return page.origin === expected.origin
  return false
}

/** Why a message from `sender` is refused, or null when it comes from our page in our window. */
export function senderProblem(sender: IpcSender, trusted: TrustedRenderer): string | null {
  if (!trusted.isAppWindow(sender.webContentsId)) return 'not one of the app windows'
  if (sender.frameUrl === null) return 'the sending frame is gone'
  if (!sender.isMainFrame) return 'not the main frame'
  if (!isRendererPage(sender.frameUrl, trusted.rendererUrl)) return 'not the app page'
  return null
}
