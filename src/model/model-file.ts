/**
 * Reading the files of a model folder safely: every file is opened non-blocking and checked with
 * fstat before a byte is read, so a FIFO where a file belongs fails at once instead of hanging the
 * load, and a symlink loop, a folder or a device where a file belongs gets its own ModelLoadError
 * code instead of a raw errno. Checking the open handle (not the path) leaves no window in which
 * the file can be swapped after the check.
 */
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import { ModelLoadError } from './errors.js';

/**
 * Opens a regular file for reading; undefined when nothing is at `file`. `tensor` is only named in
 * errors.
 * @throws ModelLoadError SYMLINK_LOOP for a symlink loop; NOT_A_FILE for a folder, FIFO, socket or
 *   device; FILE_UNREADABLE for any other failure to open (permissions, I/O), with the system's reason.
 */
export async function openModelFile(file: string, tensor?: string): Promise<fs.FileHandle | undefined> {
  let handle: fs.FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer. Regular files ignore it.
    handle = await fs.open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    if (code === 'ELOOP') {
      throw new ModelLoadError('SYMLINK_LOOP', `${file}: symbolic links loop (too many levels); fix or remove the link`, file, tensor);
    }
    throw new ModelLoadError('FILE_UNREADABLE', `${file}: cannot open (${(err as Error).message})`, file, tensor);
  }
  const stat = await handle.stat();
  if (stat.isFile()) return handle;
  await handle.close();
  const what = stat.isDirectory() ? 'a folder' : stat.isFIFO() ? 'a FIFO' : stat.isSocket() ? 'a socket' : 'a device';
  throw new ModelLoadError('NOT_A_FILE', `${file}: is ${what}, not a regular file`, file, tensor);
}

/**
 * Whether a regular file is at `file` (false when nothing is there).
 * @throws ModelLoadError as openModelFile, for anything at `file` that is not a readable regular file.
 */
export async function fileExists(file: string): Promise<boolean> {
  const handle = await openModelFile(file);
  await handle?.close();
  return handle !== undefined;
}

/**
 * The file's text; undefined when nothing is at `file`.
 * @throws ModelLoadError as openModelFile.
 */
export async function readModelText(file: string): Promise<string | undefined> {
  const handle = await openModelFile(file);
  if (handle === undefined) return undefined;
  try {
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

/**
 * Whether `dir` is a folder (following links); false when nothing is there or it is something else.
 * @throws ModelLoadError SYMLINK_LOOP for a symlink loop; FILE_UNREADABLE when it cannot be examined.
 */
export async function folderExists(dir: string): Promise<boolean> {
  try {
    return (await fs.stat(dir)).isDirectory();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    if (code === 'ELOOP') throw new ModelLoadError('SYMLINK_LOOP', `${dir}: symbolic links loop (too many levels)`, dir);
    throw new ModelLoadError('FILE_UNREADABLE', `${dir}: cannot examine (${(err as Error).message})`, dir);
  }
}
