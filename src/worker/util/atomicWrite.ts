/**
 * Replaces a file so that readers and crashes only ever see the old contents or the new ones:
 * write a temp file in the same folder, fsync it, rename it over the target. On any failure the temp
 * file is removed and the target is untouched. Used for config, the requirements cache and the
 * thread index; never for appends.
 */
import { chmod, mkdir, open, rename, stat, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

let counter = 0

/**
 * `mode` defaults to the mode of the file being replaced, or 0600 for a new file (these files can
 * hold settings or signatures other users have no business reading).
 */
export async function writeFileAtomic(
  file: string,
  data: string | Uint8Array,
  options: { mode?: number } = {},
): Promise<void> {
  const dir = dirname(file)
  await mkdir(dir, { recursive: true })
  const mode =
    options.mode ??
    (await stat(file).then(
      (s) => s.mode & 0o777,
      () => 0o600,
    ))
  // Exclusive create: two writers never share a temp file, whatever the name.
  const temp = join(dir, `.${basename(file)}.${process.pid}.${Date.now().toString(36)}.${++counter}.tmp`)
  try {
    const handle = await open(temp, 'wx', mode)
    try {
      await handle.writeFile(data)
      await handle.sync()
    } finally {
      await handle.close()
    }
    // The umask may have narrowed the mode given to open().
    await chmod(temp, mode)
    await rename(temp, file)
  } catch (error) {
    await unlink(temp).catch(() => undefined)
    throw error
  }
}
