import { PassThrough, Writable } from 'node:stream';

// Splits one tar stream at member boundaries into N complete tar streams, each member going to
// the part that has received the fewest bytes so far. Each part can then be compressed,
// stored, verified and extracted on its own, so a restore extracts the parts in parallel.
// Extended headers (pax 'x'/'g', GNU long names 'L'/'K') stay with the member they describe.

const BLOCK = 512;
const PREFIX_TYPES = new Set(['x', 'g', 'L', 'K']);

export class TarSplit extends Writable {
  readonly parts: PassThrough[];
  /** Bytes each part has received. */
  readonly loads: number[];
  private header: Buffer[] = [];
  private headerBytes = 0;
  /** Data bytes (with padding) of the current member still to route; -1 while reading a header. */
  private remaining = -1;
  private current = 0;
  /** The part an extended header chose: its member follows it there. */
  private pinned: number | undefined;
  private ended = false;

  constructor(n: number) {
    super({ highWaterMark: 1024 * 1024 });
    this.parts = Array.from({ length: n }, () => new PassThrough({ highWaterMark: 1024 * 1024 }));
    this.loads = this.parts.map(() => 0);
  }

  override _write(chunk: Buffer, _e: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.route(chunk).then(() => cb(), cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (!this.ended && (this.remaining > 0 || this.headerBytes > 0)) return cb(new Error('the tar stream ended inside a member'));
    // Each part gets its own end-of-archive marker (two zero blocks).
    let open = this.parts.length;
    for (const p of this.parts) p.end(Buffer.alloc(2 * BLOCK), () => --open === 0 && cb());
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    for (const p of this.parts) if (!p.destroyed) p.destroy(err ?? undefined);
    cb(err);
  }

  private async route(chunk: Buffer): Promise<void> {
    let data = chunk;
    while (data.length && !this.ended) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, data.length);
        await this.put(this.current, data.subarray(0, take));
        this.remaining -= take;
        data = data.subarray(take);
        continue;
      }
      const take = Math.min(BLOCK - this.headerBytes, data.length);
      this.header.push(data.subarray(0, take));
      this.headerBytes += take;
      data = data.subarray(take);
      if (this.headerBytes < BLOCK) break;
      const h = Buffer.concat(this.header, BLOCK);
      this.header = [];
      this.headerBytes = 0;
      await this.onHeader(h);
    }
  }

  private async onHeader(h: Buffer): Promise<void> {
    // The source's end-of-archive: whatever follows is padding.
    if (h.every((b) => b === 0)) {
      this.ended = true;
      return;
    }
    const size = memberSize(h);
    const padded = Math.ceil(size / BLOCK) * BLOCK;
    const type = String.fromCharCode(h[156]!);
    const part = this.pinned ?? this.leastLoaded();
    this.pinned = PREFIX_TYPES.has(type) ? part : undefined;
    this.current = part;
    this.loads[part]! += BLOCK + padded;
    await this.put(part, h);
    this.remaining = padded;
  }

  private leastLoaded(): number {
    let best = 0;
    for (let i = 1; i < this.loads.length; i++) if (this.loads[i]! < this.loads[best]!) best = i;
    return best;
  }

  private async put(i: number, buf: Buffer): Promise<void> {
    const p = this.parts[i]!;
    if (p.write(buf)) return;
    await new Promise<void>((resolve, reject) => {
      const done = () => {
        p.off('drain', done);
        p.off('close', closed);
        resolve();
      };
      const closed = () => {
        p.off('drain', done);
        p.off('close', closed);
        reject(new Error(`base backup part ${i} closed while being written`));
      };
      p.on('drain', done);
      p.on('close', closed);
    });
  }
}

/** A tar header's size field: octal, or GNU base-256 for sizes over 8 GB. */
export function memberSize(h: Buffer): number {
  const f = h.subarray(124, 136);
  if (f[0]! & 0x80) return Number(f.subarray(1).readBigUInt64BE(3));
  return Number.parseInt(f.toString('ascii').replace(/\0.*$/s, '').trim() || '0', 8);
}
