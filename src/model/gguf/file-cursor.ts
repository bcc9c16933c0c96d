/**
 * Sequential little-endian reads from a file, fetched in windows so a header of any size (a
 * 150k-token vocabulary is several MB) is read without loading the tensor data behind it. Every
 * read is checked against the file's size first: a length field that points past the end is a
 * TRUNCATED_FILE error naming the file and what was being read, never an oversized allocation.
 */
import fs from 'node:fs';
import { ModelLoadError } from '../errors.js';

// The kernel reads ahead of each read and caches that in small folios, and the weights' mapping gets
// 2 MB pages only where nothing was cached before it (docs/kernels.md): with 4 MB windows 8 MB of the
// Q8_0 bench file was cached that way, with 256 KB 3 MB.
const WINDOW_BYTES = 1 << 18;

export class FileCursor {
  /** Absolute offset of the next read. */
  pos = 0;
  private window = Buffer.alloc(0);
  private windowStart = 0;

  constructor(
    private readonly fd: number,
    readonly size: number,
    readonly file: string,
  ) {}

  /** Fails unless `n` more bytes exist at the cursor; `what` says what they would hold. */
  require(n: number, what: string): void {
    if (!(n >= 0) || this.pos + n > this.size) {
      throw new ModelLoadError(
        'TRUNCATED_FILE',
        `${this.file}: ${what} needs ${n} bytes at offset ${this.pos}, but the file ends at ${this.size}`,
        this.file,
      );
    }
  }

  u8(what: string): number {
    return this.view(1, what).readUInt8(0);
  }

  u32(what: string): number {
    return this.view(4, what).readUInt32LE(0);
  }

  i32(what: string): number {
    return this.view(4, what).readInt32LE(0);
  }

  /** An unsigned 64-bit count or offset; above 2^53 it cannot describe this file, so it is an error. */
  u64(what: string): number {
    const v = this.view(8, what).readBigUInt64LE(0);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new ModelLoadError('BAD_HEADER', `${this.file}: ${what} is ${v}, far beyond the file's ${this.size} bytes`, this.file);
    }
    return Number(v);
  }

  i64(what: string): number {
    return Number(this.view(8, what).readBigInt64LE(0));
  }

  f32(what: string): number {
    return this.view(4, what).readFloatLE(0);
  }

  f64(what: string): number {
    return this.view(8, what).readDoubleLE(0);
  }

  /** A GGUF string: u64 byte length, then UTF-8 bytes. */
  string(what: string): string {
    const length = this.u64(`${what}'s length`);
    return this.view(length, what).toString('utf8');
  }

  /** Moves the cursor to `offset` rounded up to a multiple of `alignment`. */
  alignTo(alignment: number): void {
    this.pos = Math.ceil(this.pos / alignment) * alignment;
  }

  /** `n` bytes at the cursor (a view into the window), advancing past them. */
  private view(n: number, what: string): Buffer {
    this.require(n, what);
    const end = this.pos + n;
    if (this.pos < this.windowStart || end > this.windowStart + this.window.length) {
      const length = Math.min(Math.max(n, WINDOW_BYTES), this.size - this.pos);
      this.window = Buffer.alloc(length);
      for (let got = 0; got < length; ) got += fs.readSync(this.fd, this.window, got, length - got, this.pos + got);
      this.windowStart = this.pos;
    }
    const start = this.pos - this.windowStart;
    this.pos = end;
    return this.window.subarray(start, start + n);
  }
}
