/**
 * A real cipher for tests of the token store and owner: Electron safeStorage's shape over
 * AES-256-GCM (iv 12 | tag 16 | ciphertext) with a random key per instance.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import type { Cipher } from '../../src/main/auth/tokenStore'

export function aesCipher(options: { available?: () => boolean; backend?: string } = {}): Cipher & {
  key: Buffer
} {
  const key = randomBytes(32)
  return {
    key,
    isEncryptionAvailable: options.available ?? (() => true),
    ...(options.backend ? { getSelectedStorageBackend: () => options.backend as string } : {}),
    encryptString(plain) {
      const iv = randomBytes(12)
      const cipher = createCipheriv('aes-256-gcm', key, iv)
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()])
      return Buffer.concat([iv, cipher.getAuthTag(), body])
    },
    decryptString(data) {
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, 12))
      decipher.setAuthTag(data.subarray(12, 28))
      return Buffer.concat([decipher.update(data.subarray(28)), decipher.final()]).toString('utf8')
    },
  }
}
