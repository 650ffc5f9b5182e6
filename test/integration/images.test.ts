import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, ftruncateSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { deflateSync } from 'node:zlib'
import { afterEach, describe, expect, it } from 'vitest'
import { expectCodexShape } from '../support/codexSchema'
import {
  functionCall,
  functionOutput,
  stall,
  text,
  usage,
  type RecordedRequest,
} from '../support/modelServer'
import { RpcResponseError, WAIT_MS, type TestClient } from '../support/testClient'
import { startHarness, startThread, type Harness, type TransportKind } from '../support/threadHarness'

const harnesses: Harness[] = []
const dirs: string[] = []
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.dispose()
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

function workspace(): string {
  const dir = mkdtempSync(join(tmpdir(), 'codex-desk-images-'))
  dirs.push(dir)
  return dir
}

function crc32(bytes: Buffer): number {
  let crc = 0xffffffff
  for (const byte of bytes) {
    crc ^= byte
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1
  }
  return (crc ^ 0xffffffff) >>> 0
}

/** A real, decodable PNG of w×h red pixels. */
function png(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4)
    length.writeUInt32BE(data.length)
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data])
    const crc = Buffer.alloc(4)
    crc.writeUInt32BE(crc32(body))
    return Buffer.concat([length, body, crc])
  }
  const header = Buffer.alloc(13)
  header.writeUInt32BE(width, 0)
  header.writeUInt32BE(height, 4)
  header.set([8, 2, 0, 0, 0], 8)
  const row = Buffer.concat([Buffer.from([0]), Buffer.alloc(width * 3, Buffer.from([0xff, 0, 0]))])
  const raw = Buffer.concat(Array.from({ length: height }, () => row))
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ])
}

/** JPEG bytes as a camera writes them start (SOI, JFIF APP0); the type is told by these bytes. */
const JPEG = Buffer.concat([
  Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10]),
  Buffer.from('JFIF\0', 'latin1'),
  Buffer.from([1, 1, 0, 0, 1, 0, 1, 0, 0, 0xff, 0xd9]),
])

interface ModelContent {
  type: string
  text?: string
  image_url?: string
  detail?: string
}

/** The content of the last user message of a model request. */
function lastUserContent(request: RecordedRequest): ModelContent[] {
  const input = (request.body as { input: { type: string; role?: string; content?: ModelContent[] }[] }).input
  const users = input.filter((item) => item.type === 'message' && item.role === 'user')
  return users.at(-1)?.content ?? []
}

function decodeDataUrl(url: string | undefined): { mime: string; bytes: Buffer } {
  const match = /^data:([^;]+);base64,(.*)$/s.exec(url ?? '')
  if (!match) throw new Error(`not a data URL: ${String(url).slice(0, 60)}`)
  return { mime: match[1] as string, bytes: Buffer.from(match[2] as string, 'base64') }
}

async function turnStartError(
  client: TestClient,
  params: Record<string, unknown>,
): Promise<RpcResponseError> {
  const error = await client.request('turn/start', params as never).then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(RpcResponseError)
  return error as RpcResponseError
}

async function completedTurn(client: TestClient, turnId: string) {
  return client.waitForNotification(
    'turn/completed',
    (p) => (p as { turn: { id: string } }).turn.id === turnId,
    WAIT_MS,
  )
}

describe.each<TransportKind>(['stdio', 'ws'])('images over %s', (transport) => {
  async function setup(): Promise<{ h: Harness; client: TestClient; threadId: string; cwd: string }> {
    const h = await startHarness(transport)
    harnesses.push(h)
    const client = await h.connect()
    const cwd = workspace()
    const threadId = (await startThread(client, { cwd })).thread.id
    return { h, client, threadId, cwd }
  }

  it('sends a PNG and a JPEG the user attached to the model as inline images of their type', async () => {
    const { h, client, threadId, cwd } = await setup()
    const shot = png(4, 3)
    writeFileSync(join(cwd, 'shot.png'), shot)
    // The name says PNG; the bytes say JPEG, and the bytes decide.
    writeFileSync(join(cwd, 'photo.png'), JPEG)
    h.model.enqueue([text('I see them.'), usage({ input: 10, output: 3 })])
    const { turn } = await client.request('turn/start', {
      threadId,
      input: [
        { type: 'text', text: 'what is in these?' },
        { type: 'localImage', path: join(cwd, 'shot.png') },
        { type: 'localImage', path: 'photo.png' },
      ],
    })
    await completedTurn(client, turn.id)
    const [request] = await h.model.waitForRequests(1, WAIT_MS)
    const content = lastUserContent(request as RecordedRequest)
    expect(content.map((part) => part.type)).toEqual([
      'input_text',
      'input_text',
      'input_image',
      'input_text',
      'input_text',
      'input_image',
      'input_text',
    ])
    expect(content[1]?.text).toBe(`<image name=[Image #1] path="${join(cwd, 'shot.png')}">`)
    expect(content[3]?.text).toBe('</image>')
    expect(content[4]?.text).toBe('<image name=[Image #2] path="photo.png">')
    const first = decodeDataUrl(content[2]?.image_url)
    expect(first.mime).toBe('image/png')
    expect(first.bytes.equals(shot)).toBe(true)
    expect(content[2]?.detail).toBe('high')
    const second = decodeDataUrl(content[5]?.image_url)
    expect(second.mime).toBe('image/jpeg')
    expect(second.bytes.equals(JPEG)).toBe(true)

    const userItem = await client.waitForNotification(
      'item/completed',
      (p) => (p as { item: { type: string } }).item.type === 'userMessage',
      WAIT_MS,
    )
    expectCodexShape('ItemCompletedNotification', userItem.params)
    // Clients see what they sent: the path, not the image data.
    expect((userItem.params as { item: { content: unknown[] } }).item.content[1]).toMatchObject({
      type: 'localImage',
      path: join(cwd, 'shot.png'),
    })
  })

  it('passes an image URL through to the model', async () => {
    const { h, client, threadId } = await setup()
    h.model.enqueue([text('A cat.'), usage({ input: 10, output: 2 })])
    const url = 'https://example.com/cat.png'
    const { turn } = await client.request('turn/start', {
      threadId,
      input: [
        { type: 'text', text: 'and this?' },
        { type: 'image', url },
      ],
    })
    await completedTurn(client, turn.id)
    const [request] = await h.model.waitForRequests(1, WAIT_MS)
    expect(lastUserContent(request as RecordedRequest)).toContainEqual(
      expect.objectContaining({ type: 'input_image', image_url: url }),
    )
  })

  it('refuses to start a turn with an image that cannot be read, naming its path', async () => {
    const { h, client, threadId, cwd } = await setup()
    const missing = join(cwd, 'gone.png')
    const error = await turnStartError(client, {
      threadId,
      input: [
        { type: 'text', text: 'look' },
        { type: 'localImage', path: missing },
      ],
    })
    expect(error.error.code).toBe(-32600)
    expect(error.error.message).toContain(missing)
    expect(error.error.message).toContain('no such file')
    expect(h.model.requests).toHaveLength(0)
  })

  it('refuses a file that is not an image, whatever its name', async () => {
    const { client, threadId, cwd } = await setup()
    writeFileSync(join(cwd, 'notes.png'), 'just some text\n')
    const error = await turnStartError(client, {
      threadId,
      input: [{ type: 'localImage', path: 'notes.png' }],
    })
    expect(error.error.code).toBe(-32600)
    expect(error.error.message).toContain('notes.png')
    expect(error.error.message).toContain('PNG, JPEG, GIF or WebP')
  })

  it('refuses an image above the size limit and says what the limit is', async () => {
    const { client, threadId, cwd } = await setup()
    const big = join(cwd, 'huge.png')
    writeFileSync(big, png(1, 1))
    const fd = openSync(big, 'r+')
    ftruncateSync(fd, 20 * 1024 * 1024 + 1)
    closeSync(fd)
    const error = await turnStartError(client, {
      threadId,
      input: [{ type: 'localImage', path: big }],
    })
    expect(error.error.code).toBe(-32600)
    expect(error.error.message).toContain(big)
    expect(error.error.message).toContain('20 MiB')
  })

  it('refuses to steer a running turn with an unreadable image, and takes a readable one', async () => {
    const { h, client, threadId, cwd } = await setup()
    const shot = png(3, 3)
    writeFileSync(join(cwd, 'late.png'), shot)
    h.model.enqueue([stall(), text('first')], [text('Got the late one.'), usage({ input: 10, output: 4 })])
    const { turn } = await client.request('turn/start', {
      threadId,
      input: [{ type: 'text', text: 'start' }],
    })
    await h.model.waitForStall(1, WAIT_MS)
    const refused = await client
      .request('turn/steer', {
        threadId,
        expectedTurnId: turn.id,
        input: [{ type: 'localImage', path: 'missing.png' }],
      } as never)
      .then(
        () => undefined,
        (e: unknown) => e as RpcResponseError,
      )
    expect(refused?.error.code).toBe(-32600)
    expect(refused?.error.message).toContain('missing.png')
    await client.request('turn/steer', {
      threadId,
      expectedTurnId: turn.id,
      input: [{ type: 'localImage', path: 'late.png' }],
    } as never)
    h.model.release()
    await completedTurn(client, turn.id)
    const requests = await h.model.waitForRequests(2, WAIT_MS)
    const image = lastUserContent(requests[1] as RecordedRequest).find((part) => part.type === 'input_image')
    expect(decodeDataUrl(image?.image_url).bytes.equals(shot)).toBe(true)
  })

  it('lets the model look at a workspace image with view_image, shown to clients as an image view', async () => {
    const { h, client, threadId, cwd } = await setup()
    const shot = png(2, 2)
    writeFileSync(join(cwd, 'ui.png'), shot)
    writeFileSync(join(cwd, 'readme.txt'), 'not an image')
    h.model.enqueue(
      [functionCall({ name: 'view_image', arguments: { path: 'ui.png' }, callId: 'call_view' })],
      [functionCall({ name: 'view_image', arguments: { path: 'readme.txt' }, callId: 'call_text' })],
      [text('It is a red square.'), usage({ input: 10, output: 5 })],
    )
    const { turn } = await client.request('turn/start', {
      threadId,
      input: [{ type: 'text', text: 'check the ui' }],
    })
    await completedTurn(client, turn.id)
    const requests = await h.model.waitForRequests(3, WAIT_MS)
    const tools = (requests[0]?.body as { tools: { name?: string }[] }).tools
    expect(tools).toContainEqual(
      expect.objectContaining({
        type: 'function',
        name: 'view_image',
        parameters: expect.objectContaining({ required: ['path'] }),
      }),
    )
    const output = functionOutput(requests, 'call_view') as ModelContent[]
    expect(output).toHaveLength(1)
    expect(output[0]).toMatchObject({ type: 'input_image', detail: 'high' })
    const image = decodeDataUrl(output[0]?.image_url)
    expect(image.mime).toBe('image/png')
    expect(image.bytes.equals(shot)).toBe(true)
    // A file that is not an image: the model is told, and the turn goes on.
    expect(functionOutput(requests, 'call_text')).toContain('is not an image')

    for (const method of ['item/started', 'item/completed'] as const) {
      const seen = await client.waitForNotification(
        method,
        (p) => (p as { item: { type: string } }).item.type === 'imageView',
        WAIT_MS,
      )
      expectCodexShape(
        method === 'item/started' ? 'ItemStartedNotification' : 'ItemCompletedNotification',
        seen.params,
      )
      expect((seen.params as { item: unknown }).item).toMatchObject({
        type: 'imageView',
        id: 'call_view',
        path: join(cwd, 'ui.png'),
      })
    }
    const imageViews = client.received.filter(
      (m) =>
        m.method === 'item/started' && (m.params as { item: { type: string } }).item.type === 'imageView',
    )
    expect(imageViews).toHaveLength(1)
  })
})
