/**
 * A real MCP server written with `@modelcontextprotocol/sdk`, for the MCP tests: the tool `echo`,
 * the tool `count` (reports progress; not read-only, so it needs approval), the tool `wait` (answers
 * late), the tool `crash` (the process exits, as a crashing server would), and the resource
 * `test://greeting`. Run as a script it serves stdio:
 *
 *   node --import tsx test/support/mcpServer.ts            (cwd: the repository)
 *
 * With `MCP_TEST_PID_DIR` set it writes an empty file named after its pid there on start (and
 * removes it on a clean exit), so a test can count the live server processes.
 * `MCP_TEST_TOOL_PREFIX` renames the tools (`<prefix>echo`...), so a reload can be seen.
 * `startHttpMcpServer()` serves the same tools over streamable HTTP on 127.0.0.1, in-process.
 *
 * It must never listen beyond loopback, and never outlive the test that started it.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server as HttpServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import * as z from 'zod'

export const GREETING_URI = 'test://greeting'
export const GREETING_TEXT = 'Hello from the test MCP server'

/** Tool names the model cannot take as they are (`MCP_TEST_ODD_NAMES=1`): see mcp/naming.ts. */
export const ODD_NAMES = ['dotted.name/x', `long_${'x'.repeat(70)}`]

export function createTestMcpServer(
  options: { prefix?: string; oddNames?: boolean; onCrash?: () => void } = {},
): McpServer {
  const prefix = options.prefix ?? ''
  const server = new McpServer({ name: 'codex-desk-test', version: '1.2.3' })
  server.registerTool(
    `${prefix}echo`,
    {
      description: 'Echoes the text back.',
      inputSchema: { text: z.string() },
      annotations: { readOnlyHint: true },
    },
    async ({ text }) => ({
      content: [{ type: 'text', text: `echo: ${text}` }],
      structuredContent: { echoed: text },
    }),
  )
  server.registerTool(
    `${prefix}count`,
    {
      description: 'Counts to n, reporting progress.',
      inputSchema: { n: z.number() },
    },
    async ({ n }, extra) => {
      const token = extra._meta?.progressToken
      for (let i = 1; i <= n; i++) {
        if (token !== undefined) {
          await extra.sendNotification({
            method: 'notifications/progress',
            params: { progressToken: token, progress: i, total: n, message: `counted ${i} of ${n}` },
          })
        }
      }
      return { content: [{ type: 'text', text: `counted to ${n}` }] }
    },
  )
  server.registerTool(
    `${prefix}wait`,
    {
      description: 'Answers after ms milliseconds.',
      inputSchema: { ms: z.number() },
      annotations: { readOnlyHint: true },
    },
    async ({ ms }) => {
      await new Promise((resolve) => setTimeout(resolve, ms))
      return { content: [{ type: 'text', text: `waited ${ms} ms` }] }
    },
  )
  server.registerTool(
    `${prefix}crash`,
    { description: 'Makes the server exit.', annotations: { readOnlyHint: true } },
    async () => {
      options.onCrash?.()
      return { content: [{ type: 'text', text: 'crashing' }] }
    },
  )
  for (const name of options.oddNames ? ODD_NAMES : []) {
    server.registerTool(name, { description: 'A tool with an unusual name.' }, async () => ({
      content: [{ type: 'text', text: name }],
    }))
  }
  server.registerResource(
    'greeting',
    GREETING_URI,
    { description: 'A greeting.', mimeType: 'text/plain' },
    async (uri) => ({ contents: [{ uri: uri.href, mimeType: 'text/plain', text: GREETING_TEXT }] }),
  )
  return server
}

export interface HttpMcpServer {
  url: string
  /** The `Authorization` headers of every request, in order. */
  authorizations: (string | undefined)[]
  close(): Promise<void>
}

/** The test server over streamable HTTP (stateless: a fresh server per request), on 127.0.0.1. */
export async function startHttpMcpServer(): Promise<HttpMcpServer> {
  const authorizations: (string | undefined)[] = []
  const http: HttpServer = createServer((req, res) => {
    authorizations.push(req.headers.authorization)
    const server = createTestMcpServer()
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined })
    res.on('close', () => {
      void transport.close()
      void server.close()
    })
    void server
      .connect(transport)
      .then(() => transport.handleRequest(req, res))
      .catch(() => {
        if (!res.headersSent) res.writeHead(500).end()
      })
  })
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  const { port } = http.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    authorizations,
    close: () =>
      new Promise((resolve) => {
        http.closeAllConnections()
        http.close(() => resolve())
      }),
  }
}

async function main(): Promise<void> {
  const pidDir = process.env.MCP_TEST_PID_DIR
  const pidFile = pidDir ? join(pidDir, String(process.pid)) : undefined
  if (pidDir && pidFile) {
    mkdirSync(pidDir, { recursive: true })
    writeFileSync(pidFile, '')
  }
  const cleanup = () => {
    if (pidFile) rmSync(pidFile, { force: true })
  }
  const server = createTestMcpServer({
    ...(process.env.MCP_TEST_TOOL_PREFIX ? { prefix: process.env.MCP_TEST_TOOL_PREFIX } : {}),
    oddNames: process.env.MCP_TEST_ODD_NAMES === '1',
    // A crash: the pid file stays (a crashed process cleans nothing), the process dies at once.
    onCrash: () => setTimeout(() => process.kill(process.pid, 'SIGKILL'), 10),
  })
  const transport = new StdioServerTransport()
  transport.onclose = () => {
    cleanup()
    process.exit(0)
  }
  process.stdin.on('end', () => {
    cleanup()
    process.exit(0)
  })
  process.on('SIGTERM', () => {
    cleanup()
    process.exit(0)
  })
  await server.connect(transport)
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void main()
