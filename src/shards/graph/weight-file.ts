import { openSync, writeSync, closeSync } from 'node:fs';
import { basename } from 'node:path';

/** Page alignment lets ORT memory-map external initializers instead of reading them. */
const ALIGN = 4096;

/** An append-only external-data file shared by every graph segment of one shard. */
export class WeightFile {
  private fd: number | null;
  private size = 0;
  readonly fileName: string;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'w');
    this.fileName = basename(path);
  }

  /** Appends bytes at the next aligned offset and returns that offset. */
  append(data: Uint8Array): number {
    if (this.fd === null) throw new Error(`weight file ${this.path} is already closed`);
    const pad = (ALIGN - (this.size % ALIGN)) % ALIGN;
    if (pad) writeSync(this.fd, new Uint8Array(pad), 0, pad, this.size);
    const offset = this.size + pad;
    let done = 0;
    while (done < data.byteLength) done += writeSync(this.fd, data, done, data.byteLength - done, offset + done);
    this.size = offset + data.byteLength;
    return offset;
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
