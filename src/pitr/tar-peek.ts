import { Transform, type TransformCallback } from 'node:stream';

// Passes a tar stream through unchanged while keeping the contents of a few named small
// members: pg_basebackup's backup_label (start LSN, timeline) and backup_manifest (WAL range).

export class TarPeek extends Transform {
  readonly files = new Map<string, Buffer>();
  private buf: Buffer[] = [];
  private buffered = 0;
  /** Bytes left in the current member's data (including padding); -1 while reading a header. */
  private remaining = -1;
  private capturing: { name: string; size: number; parts: Buffer[] } | undefined;

  constructor(
    private readonly wanted: Set<string>,
    private readonly maxSize = 64 * 1024 * 1024,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.push(chunk);
    let data = chunk;
    while (data.length) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, data.length);
        if (this.capturing) this.capturing.parts.push(Buffer.from(data.subarray(0, take)));
        this.remaining -= take;
        data = data.subarray(take);
        if (this.remaining === 0) this.finishMember();
        continue;
      }
      // Gather a 512-byte header.
      const need = 512 - this.buffered;
      const take = Math.min(need, data.length);
      this.buf.push(data.subarray(0, take));
      this.buffered += take;
      data = data.subarray(take);
      if (this.buffered < 512) break;
      const header = Buffer.concat(this.buf, 512);
      this.buf = [];
      this.buffered = 0;
      this.onHeader(header);
    }
    cb();
  }

  private onHeader(h: Buffer): void {
    if (h.every((b) => b === 0)) return; // end-of-archive blocks
    const name = h.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
    const prefix = h.subarray(345, 500).toString('utf8').replace(/\0.*$/s, '');
    const full = prefix ? `${prefix}/${name}` : name;
    const sizeField = h.subarray(124, 136);
    // GNU base-256 encoding for sizes over 8 GB.
    const size = sizeField[0]! & 0x80 ? Number(sizeField.subarray(1).readBigUInt64BE(3)) : Number.parseInt(sizeField.toString('ascii').replace(/\0.*$/s, '').trim() || '0', 8);
    const padded = Math.ceil(size / 512) * 512;
    this.capturing = this.wanted.has(full) && size <= this.maxSize ? { name: full, size, parts: [] } : undefined;
    this.remaining = padded;
    if (padded === 0) this.finishMember();
  }

  private finishMember(): void {
    if (this.capturing) this.files.set(this.capturing.name, Buffer.concat(this.capturing.parts).subarray(0, this.capturing.size));
    this.capturing = undefined;
    this.remaining = -1;
  }
}

/** Start LSN and timeline from a backup_label. */
export function parseBackupLabel(text: string): { startLsn: string; timeline: number } | undefined {
  const lsn = /START WAL LOCATION: ([0-9A-F]+\/[0-9A-F]+)/.exec(text)?.[1];
  const tli = /START TIMELINE: (\d+)/.exec(text)?.[1];
  return lsn && tli ? { startLsn: lsn, timeline: Number(tli) } : undefined;
}

/** The WAL range from a backup_manifest. */
export function parseManifestWalRange(text: string): { timeline: number; startLsn: string; endLsn: string } | undefined {
  try {
    const m = JSON.parse(text) as { 'WAL-Ranges'?: { Timeline: number; 'Start-LSN': string; 'End-LSN': string }[] };
    const r = m['WAL-Ranges']?.[m['WAL-Ranges'].length - 1];
    return r ? { timeline: r.Timeline, startLsn: r['Start-LSN'], endLsn: r['End-LSN'] } : undefined;
  } catch {
    return undefined;
  }
}
