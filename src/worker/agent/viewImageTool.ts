/**
 * The `view_image` tool: the model names an image file (relative to the thread's cwd, or
 * absolute) and gets it back as an `input_image` in the call's output, as codex returns it.
 * Clients see an `imageView` item with the absolute path. Every sandbox policy codex-desk has
 * lets the agent read the whole disk (a read-only sandbox limits writes only), so any readable
 * file may be viewed, as in codex.
 *
 * It must never send a file that images.ts refuses (not an image, or above the size limit): the
 * model gets the reason as text instead, and the turn goes on.
 */
import path from 'node:path'
import { DEFAULT_IMAGE_DETAIL, ImageLoadError, loadImageDataUrl } from './images'
import { parseArguments, type Tool, type ToolCall, type ToolOutput, type ToolServices } from './tools'

export const VIEW_IMAGE_TOOL_NAME = 'view_image'

/** The definition codex 0.169 sends. */
export const viewImageToolSpec = {
  type: 'function',
  name: VIEW_IMAGE_TOOL_NAME,
  description:
    'View a local image file from the filesystem when visual inspection is needed. Use this for images already available on disk.',
  strict: false,
  parameters: {
    type: 'object',
    properties: {
      path: { type: 'string', description: 'Local filesystem path to an image file.' },
    },
    required: ['path'],
    additionalProperties: false,
  },
} as const

export function createViewImageTool(): Tool {
  return {
    name: VIEW_IMAGE_TOOL_NAME,
    spec: () => viewImageToolSpec,
    call: viewImage,
  }
}

async function viewImage(call: ToolCall, services: ToolServices): Promise<ToolOutput> {
  const parsed = parseArguments(call)
  if (!parsed.ok) return parsed.message
  const requested = (parsed.value as { path?: unknown } | null)?.path
  if (typeof requested !== 'string' || requested === '') {
    return 'failed to parse function arguments: missing field `path`'
  }
  const absolute = path.resolve(services.settings.cwd, requested)
  let imageUrl: string
  try {
    imageUrl = await loadImageDataUrl(absolute)
  } catch (error) {
    if (error instanceof ImageLoadError) return error.message
    throw error
  }
  // Codex shows the view once the image is loaded: started and completed together.
  const item = { type: 'imageView' as const, id: call.callId, path: absolute }
  await services.startItem(item)
  await services.completeItem({ ...item })
  return [{ type: 'input_image', image_url: imageUrl, detail: DEFAULT_IMAGE_DETAIL }]
}
