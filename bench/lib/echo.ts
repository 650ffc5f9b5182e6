/**
 * Echo peers for the round-trip floor: a bare Node child over stdio, a bare `ws` server child, and a
 * bare worker thread over a MessagePort, each answering a request with a fixed result after one
 * JSON.parse. Round trips on an idle 2-core VM are dominated by waking the other side, and the same
 * code reads 0.02 ms on a busy machine and 0.06 ms on an idle one; the floor, timed right next to
 * the real server, shows how much of a figure is the machine and how much is codex-desk.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads'
import { REPO_ROOT, track } from './processes'

/** The reply to a request `m` (nothing for a notification), as the body of a JS expression. */
const reply = (send: (json: string) => string) =>
  `if(m.id!==undefined)${send('JSON.stringify({id:m.id,result:{data:[],nextCursor:null}})')}`

const STDIO_ECHO = `let b='';process.stdin.setEncoding('utf8').on('data',(c)=>{b+=c;let i;
while((i=b.indexOf('\\n'))!==-1){const m=JSON.parse(b.slice(0,i));b=b.slice(i+1);
${reply((json) => `process.stdout.write(${json}+'\\n')`)}}})`

const WS_ECHO = `const {WebSocketServer}=require('ws');
const s=new WebSocketServer({host:'127.0.0.1',port:0,perMessageDeflate:false},
()=>console.log('echo listening on ws://127.0.0.1:'+s.address().port));
s.on('connection',(w)=>w.on('message',(d)=>{const m=JSON.parse(d.toString());${reply((json) => `w.send(${json})`)}}))`

const PORT_ECHO = `const {parentPort}=require('node:worker_threads');
parentPort.once('message',({port})=>port.on('message',(d)=>{if(typeof d!=='string')return;
const m=JSON.parse(d);${reply((json) => `port.postMessage(${json})`)}}))`

function spawnEcho(script: string): ChildProcessWithoutNullStreams {
  // cwd is the repo so that `require('ws')` resolves from its node_modules.
  const child = spawn(process.execPath, ['-e', script], { cwd: REPO_ROOT, stdio: 'pipe' })
  track(child)
  child.stdin.on('error', () => {})
  child.stderr.resume()
  return child
}

export const spawnStdioEcho = () => spawnEcho(STDIO_ECHO)
export const spawnWsEcho = () => spawnEcho(WS_ECHO)

/** A worker thread echoing over a fresh MessageChannel; terminate the worker when done. */
export function startPortEcho(): { worker: Worker; port: MessagePort } {
  const worker = new Worker(PORT_ECHO, { eval: true })
  const { port1, port2 } = new MessageChannel()
  worker.postMessage({ port: port1 }, [port1])
  return { worker, port: port2 }
}
