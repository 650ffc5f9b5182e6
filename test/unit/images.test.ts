import { describe, expect, it } from 'vitest'
import { imageDataUrl, ImageLoadError, sniffImageMime } from '../../src/worker/agent/images'

const bytes = (...parts: (number[] | string)[]) =>
  Buffer.concat(
    parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'latin1') : Buffer.from(part))),
  )

describe('image type detection', () => {
  it('tells the four image types from their first bytes', () => {
    expect(sniffImageMime(bytes([0x89], 'PNG\r\n\x1a\n', [0, 0]))).toBe('image/png')
    expect(sniffImageMime(bytes([0xff, 0xd8, 0xff, 0xdb]))).toBe('image/jpeg')
    expect(sniffImageMime(bytes('GIF89a', [1, 0]))).toBe('image/gif')
    expect(sniffImageMime(bytes('GIF87a'))).toBe('image/gif')
    expect(sniffImageMime(bytes('RIFF', [0, 0, 0, 0], 'WEBPVP8 '))).toBe('image/webp')
  })

  it('refuses anything else, including truncated headers and other RIFF files', () => {
    expect(sniffImageMime(bytes('just text'))).toBeNull()
    expect(sniffImageMime(bytes([0x89], 'PNG'))).toBeNull()
    expect(sniffImageMime(bytes('RIFF', [0, 0, 0, 0], 'WAVEfmt '))).toBeNull()
    expect(sniffImageMime(bytes('GIF8'))).toBeNull()
    expect(sniffImageMime(Buffer.alloc(0))).toBeNull()
  })

  it('builds a data URL of the detected type, or names the file it refuses', () => {
    expect(imageDataUrl(bytes('GIF89a'), 'a.gif')).toBe(
      `data:image/gif;base64,${bytes('GIF89a').toString('base64')}`,
    )
    expect(() => imageDataUrl(bytes('%PDF-1.7'), 'doc.png')).toThrow(ImageLoadError)
    expect(() => imageDataUrl(bytes('%PDF-1.7'), 'doc.png')).toThrow('`doc.png`')
  })
})
