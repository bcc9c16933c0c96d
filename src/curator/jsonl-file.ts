/**
 * The output files, appended safely: each record is one line written with a single write call,
 * so a run killed mid-file leaves whole lines plus at most one torn last line. Resuming reads the
 * whole lines and cuts the torn tail off before appending again.
 */
import fs from 'node:fs';
import { CurateError } from './errors.js';

/** The records of `file` ([] when it does not exist), after cutting off a torn last line. @throws CurateError OUTPUT_ERROR on a bad whole line. */
export function readForResume(file: string): Record<string, unknown>[] {
  if (!fs.existsSync(file)) return [];
  const text = fs.readFileSync(file, 'utf8');
  const end = text.lastIndexOf('\n') + 1;
  if (end < text.length) fs.truncateSync(file, Buffer.byteLength(text.slice(0, end)));
  return readRecords(file, text.slice(0, end));
}

/** The records of whole lines of `text` (the content of `file`). @throws CurateError OUTPUT_ERROR. */
export function readRecords(file: string, text: string = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : ''): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line, i) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new CurateError('OUTPUT_ERROR', `${file}: line ${i + 1} is not a JSON record; it was not written by multiverse curate`);
      }
    });
}

/** Appends records to a file, one line and one write each. */
export class JsonlAppender {
  private readonly fd: number;

  constructor(file: string) {
    this.fd = fs.openSync(file, 'a');
  }

  append(record: object): void {
    const line = Buffer.from(`${JSON.stringify(record)}\n`);
    // One write for a line of a regular file; the loop only guards against a short write.
    for (let at = 0; at < line.length; ) at += fs.writeSync(this.fd, line, at);
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}
