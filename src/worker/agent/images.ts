/**
 * Images for the model: a local file becomes a Responses API `input_image` with a `data:` URL.
 * The type comes from the file's first bytes (PNG, JPEG, GIF, WebP), never from its name, and a
 * file above MAX_IMAGE_BYTES is refused: without an image decoder in plain Node we cannot resize
 * as codex does, so we say so rather than send what the model would reject.
 *
 * `turn/start` and `turn/steer` read their `localImage` inputs first (`prepareLocalImages`), so an
 * unreadable or unusable file fails the request with a message naming the path; the user message
 * built later (history.ts `userMessageItem`) takes the loaded data from here.
 *
 * It must never send a file that is not one of the four image types, nor one above the limit.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import { open } from 'node:fs/promises'
import path from 'node:path'
import { invalidRequest } from '../protocol/errors'
import type { UserInput } from '../protocol/items'

/** The largest image file sent to the model (the Responses API takes up to 20 MB per image). */
export const MAX_IMAGE_BYTES = 20 * 1024 * 1024

export type ImageMime = 'image/png' | 'image/jpeg' | 'image/gif' | 'image/webp'

/** The detail codex asks for when the client gave none. */
export const DEFAULT_IMAGE_DETAIL = 'high'

/** A file that cannot go to the model as an image; the message names the path. */
export class ImageLoadError extends Error {}

function startsWith(bytes: Uint8Array, prefix: readonly number[], at = 0): boolean {
  if (bytes.length < at + prefix.length) return false
  return prefix.every((byte, i) => bytes[at + i] === byte)
}

/** The image type of a file's first bytes, or null when it is none of the four. */
export function sniffImageMime(bytes: Uint8Array): ImageMime | null {
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png'
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'image/jpeg'
  if (startsWith(bytes, [0x47, 0x49, 0x46, 0x38]) && (bytes[4] === 0x37 || bytes[4] === 0x39)) {
    return bytes[5] === 0x61 ? 'image/gif' : null
  }
  if (startsWith(bytes, [0x52, 0x49, 0x46, 0x46]) && startsWith(bytes, [0x57, 0x45, 0x42, 0x50], 8)) {
    return 'image/webp'
  }
  return null
}

function formatMiB(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1).replace(/\.0$/, '')} MiB`
}

function sizeError(shown: string, size: number): ImageLoadError {
  return new ImageLoadError(
    `image \`${shown}\` is ${formatMiB(size)} (${size} bytes), above the ${formatMiB(MAX_IMAGE_BYTES)} ` +
      `limit for images sent to the model; make it smaller first`,
  )
}

function readError(shown: string, error: unknown): ImageLoadError {
  const code = (error as { code?: unknown })?.code
  const reason =
    code === 'ENOENT'
      ? 'no such file'
      : code === 'EACCES' || code === 'EPERM'
        ? 'permission denied'
        : code === 'EISDIR'
          ? 'it is a directory'
          : (error as Error)?.message || String(error)
  return new ImageLoadError(`could not read image \`${shown}\`: ${reason}`)
}

/** The `data:` URL of image bytes, or an error naming `shown` when they are not an image. */
export function imageDataUrl(bytes: Buffer, shown: string): string {
  const mime = sniffImageMime(bytes)
  if (!mime) {
    throw new ImageLoadError(`\`${shown}\` is not an image the model can take (PNG, JPEG, GIF or WebP)`)
  }
  return `data:${mime};base64,${bytes.toString('base64')}`
}

/**
 * Reads an image file as a `data:` URL. `absolute` is read; `shown` is the path as the user or
 * the model wrote it, for messages. Throws ImageLoadError.
 */
export async function loadImageDataUrl(absolute: string, shown = absolute): Promise<string> {
  let handle
  try {
    handle = await open(absolute, 'r')
  } catch (error) {
    throw readError(shown, error)
  }
  try {
    const stat = await handle.stat()
    if (!stat.isFile()) throw new ImageLoadError(`image \`${shown}\` is not a file`)
    if (stat.size > MAX_IMAGE_BYTES) throw sizeError(shown, stat.size)
    // Read at most one byte past the limit: a file that grew since the stat is still refused.
    const buffer = Buffer.alloc(Math.min(stat.size, MAX_IMAGE_BYTES) + 1)
    let length = 0
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length)
      if (bytesRead === 0) break
      length += bytesRead
    }
    if (length > MAX_IMAGE_BYTES) throw sizeError(shown, length)
    return imageDataUrl(buffer.subarray(0, length), shown)
  } catch (error) {
    if (error instanceof ImageLoadError) throw error
    throw readError(shown, error)
  } finally {
    await handle.close().catch(() => undefined)
  }
}

/** loadImageDataUrl without waiting, for a user message nobody prepared (see `localImageContent`). */
function loadImageDataUrlSync(absolute: string, shown: string): string {
  let fd: number
  try {
    fd = openSync(absolute, 'r')
  } catch (error) {
    throw readError(shown, error)
  }
  try {
    const stat = fstatSync(fd)
    if (!stat.isFile()) throw new ImageLoadError(`image \`${shown}\` is not a file`)
    if (stat.size > MAX_IMAGE_BYTES) throw sizeError(shown, stat.size)
    const buffer = Buffer.alloc(stat.size)
    let length = 0
    while (length < buffer.length) {
      const bytesRead = readSync(fd, buffer, length, buffer.length - length, length)
      if (bytesRead === 0) break
      length += bytesRead
    }
    return imageDataUrl(buffer.subarray(0, length), shown)
  } catch (error) {
    if (error instanceof ImageLoadError) throw error
    throw readError(shown, error)
  } finally {
    closeSync(fd)
  }
}

type LocalImageInput = Extract<UserInput, { type: 'localImage' }>

/** The loaded `data:` URL of each prepared `localImage` part (the same object the turn carries). */
const prepared = new WeakMap<object, string>()

/**
 * Reads every `localImage` of `input` (a relative path against `cwd`) so the user message can
 * carry it. Throws ImageLoadError for the first file that cannot go to the model.
 */
export async function prepareLocalImages(input: readonly UserInput[], cwd: string): Promise<void> {
  for (const part of input) {
    if (part.type !== 'localImage' || prepared.has(part)) continue
    prepared.set(part, await loadImageDataUrl(path.resolve(cwd, part.path), part.path))
  }
}

type ImageContent =
  { type: 'input_text'; text: string } | { type: 'input_image'; image_url: string; detail: string }

/**
 * A `localImage` as codex sends it: an opening tag naming the image and its path, the image, and
 * a closing tag. A part nobody prepared is read now; when that fails the model is told why in
 * text instead (what codex does for every unreadable image).
 */
export function localImageContent(part: LocalImageInput, number: number): ImageContent[] {
  let imageUrl = prepared.get(part)
  // The message now holds the data; the thread keeps the part for as long as it lives.
  prepared.delete(part)
  if (imageUrl === undefined) {
    try {
      imageUrl = loadImageDataUrlSync(path.resolve(part.path), part.path)
    } catch (error) {
      if (!(error instanceof ImageLoadError)) throw error
      return [{ type: 'input_text', text: `The image could not be attached: ${error.message}` }]
    }
  }
  return [
    { type: 'input_text', text: `<image name=[Image #${number}] path="${part.path}">` },
    { type: 'input_image', image_url: imageUrl, detail: part.detail ?? DEFAULT_IMAGE_DETAIL },
    { type: 'input_text', text: '</image>' },
  ]
}

/**
 * `prepareLocalImages` for a client's request: a file that cannot go to the model fails the
 * request (-32600) with the message naming it, before any turn starts.
 */
export async function prepareRequestImages(input: readonly UserInput[], cwd: string): Promise<void> {
  try {
    await prepareLocalImages(input, cwd)
  } catch (error) {
    if (error instanceof ImageLoadError) throw invalidRequest(error.message)
    throw error
  }
}
