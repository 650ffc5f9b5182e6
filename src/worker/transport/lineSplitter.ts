/**
 * Splits a byte stream into lines for JSONL transports, bounded: a line longer than `maxBytes` is
 * discarded up to its newline and reported once, so one runaway message cannot grow memory.
 */
import { StringDecoder } from 'node:string_decoder'

export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8')
  private partial = ''
  private partialBytes = 0
  private discarding = false

  constructor(
    private readonly maxBytes: number,
    private readonly onLine: (line: string) => void,
    private readonly onOversized: (bytes: number) => void,
  ) {}

  push(chunk: Buffer): void {
    let text = this.decoder.write(chunk)
    let nl = text.indexOf('\n')
    while (nl !== -1) {
      const piece = text.slice(0, nl)
      text = text.slice(nl + 1)
      if (this.discarding) {
        this.discarding = false
        this.onOversized(this.partialBytes + Buffer.byteLength(piece))
      } else {
        const line = this.partial + piece
        this.partial = ''
        const trimmed = line.endsWith('\r') ? line.slice(0, -1) : line
        if (trimmed.trim().length > 0) this.onLine(trimmed)
      }
      this.partialBytes = 0
      nl = text.indexOf('\n')
    }
    this.partialBytes += Buffer.byteLength(text)
    if (this.discarding) return
    if (this.partialBytes > this.maxBytes) {
      this.discarding = true
      this.partial = ''
      return
    }
    this.partial += text
  }

  /** At end of input: a last line without a newline still counts. */
  end(): void {
    const rest = this.partial + this.decoder.end()
    this.partial = ''
    if (!this.discarding && rest.trim().length > 0)
      this.onLine(rest.endsWith('\r') ? rest.slice(0, -1) : rest)
  }
}
