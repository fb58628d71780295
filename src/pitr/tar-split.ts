import { PassThrough, Writable } from 'node:stream';
import { OperationError } from '../errors.js';

// Splits one tar stream at member boundaries into N complete tar streams, each member going to
// the part that has received the fewest bytes so far. Each part can then be compressed,
// stored, verified and extracted on its own, so a restore extracts the parts in parallel.
// Extended headers (pax 'x', GNU long names 'L'/'K') stay with the member they describe.
// Directory members go to every part: tar makes a file's missing parent directories itself, but
// when another tar extracting beside it makes the same directory in between, it gives up on the
// file ("Cannot open: No such file or directory"). With each part holding every directory ahead
// of the files in it (tar and pg_basebackup write a directory before its contents), no tar has to
// make one, and a directory another part made first is simply kept.
//
// The parts' sha256 is taken after the split, so a mis-framed stream would be stored and
// listed as a good backup: every header is checked (checksum, magic, size field), and only the
// member types pg_basebackup writes pass. A type whose framing or meaning spans members
// (sparse files, pax global headers, hard links to a member in another part, a pax size
// override) is refused rather than guessed at, and the stream must close with its
// end-of-archive marker.

const BLOCK = 512;
/** Regular file (old and POSIX spelling), symlink, directory. */
const MEMBER_TYPES = new Set(['0', '\0', '2', '5']);
/** Extended headers describing the member that follows them. */
const PREFIX_TYPES = new Set(['x', 'L', 'K']);
/** A pax header larger than this is no header pg_basebackup or tar writes. */
const MAX_PAX = 1024 * 1024;

function framingError(message: string): OperationError {
  return new OperationError('postgres.basebackup', `the base backup's tar stream ${message}`);
}

export class TarSplit extends Writable {
  readonly parts: PassThrough[];
  /** Bytes each part has received. */
  readonly loads: number[];
  private header: Buffer[] = [];
  private headerBytes = 0;
  /** Data bytes (with padding) of the current member still to route; -1 while reading a header. */
  private remaining = -1;
  /** The parts the current member goes to: one, or every part for a directory. */
  private targets: number[] = [0];
  /** Extended headers (with their data) held until the member they describe says where it goes. */
  private prefix: Buffer[] | undefined;
  private prefixBytes = 0;
  private ended = false;
  /** A zero block was read: the next one completes the end-of-archive marker. */
  private zeroBlock = false;
  /** The data of the pax header being routed, checked once complete. */
  private pax: Buffer[] | undefined;
  private paxBytes = 0;
  /** Unpadded data bytes of the current member still to come (the rest of `remaining` is padding). */
  private dataLeft = 0;

  constructor(n: number) {
    super({ highWaterMark: 1024 * 1024 });
    this.parts = Array.from({ length: n }, () => new PassThrough({ highWaterMark: 1024 * 1024 }));
    this.loads = this.parts.map(() => 0);
  }

  override _write(chunk: Buffer, _e: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.route(chunk).then(() => cb(), cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (!this.ended && (this.remaining > 0 || this.headerBytes > 0)) return cb(framingError('ended inside a member'));
    if (!this.ended) return cb(framingError('ended without its end-of-archive marker (cut short?)'));
    // Each part gets its own end-of-archive marker (two zero blocks).
    let open = this.parts.length;
    for (const p of this.parts) p.end(Buffer.alloc(2 * BLOCK), () => --open === 0 && cb());
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // Only a failure takes the parts down. After a clean finish the splitter is auto-destroyed
    // while the parts may still hold data their readers have not taken: destroying them then
    // cut parts short or left their readers waiting for an end that never came.
    if (err) for (const p of this.parts) if (!p.destroyed) p.destroy(err);
    cb(err);
  }

  private async route(chunk: Buffer): Promise<void> {
    let data = chunk;
    while (data.length && !this.ended) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, data.length);
        const piece = data.subarray(0, take);
        if (this.pax) this.collectPax(piece);
        if (this.prefix) this.hold(piece);
        else await this.putAll(piece);
        this.remaining -= take;
        data = data.subarray(take);
        if (this.remaining === 0 && this.pax) this.checkPax();
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
    // The source's end-of-archive, two zero blocks: whatever follows is padding.
    if (h.every((b) => b === 0)) {
      if (this.prefix !== undefined) throw framingError('has an extended header with no member after it');
      if (this.zeroBlock) this.ended = true;
      this.zeroBlock = true;
      return;
    }
    if (this.zeroBlock) throw framingError('has a lone zero block inside the archive');
    checkHeader(h);
    const size = memberSize(h);
    const padded = Math.ceil(size / BLOCK) * BLOCK;
    const type = String.fromCharCode(h[156]!);
    if (!MEMBER_TYPES.has(type) && !PREFIX_TYPES.has(type)) {
      throw framingError(`has a member of tar type '${/^[\x21-\x7e]$/.test(type) ? type : `\\x${h[156]!.toString(16).padStart(2, '0')}`}' (${headerName(h)}), which a base backup does not contain; refusing to split it`);
    }
    if (type === 'x') {
      if (size > MAX_PAX) throw framingError(`has a pax header of ${size} bytes (${headerName(h)})`);
      this.pax = [];
      this.paxBytes = 0;
      this.dataLeft = size;
    }
    if (PREFIX_TYPES.has(type)) {
      this.prefix ??= [];
      this.hold(Buffer.from(h));
    } else {
      this.targets = type === '5' ? this.parts.map((_, i) => i) : [this.leastLoaded()];
      const held = this.prefix ?? [];
      this.prefix = undefined;
      this.prefixBytes = 0;
      for (const i of this.targets) this.loads[i]! += BLOCK + padded + held.reduce((n, b) => n + b.length, 0);
      for (const b of held) await this.putAll(b);
      await this.putAll(h);
    }
    this.remaining = padded;
    if (this.pax && padded === 0) this.checkPax();
  }

  private hold(piece: Buffer): void {
    this.prefixBytes += piece.length;
    // Two long names and a pax header stay far below this; more is no base backup.
    if (this.prefixBytes > 4 * MAX_PAX) throw framingError('has extended headers larger than any member needs');
    this.prefix!.push(Buffer.from(piece));
  }

  private async putAll(buf: Buffer): Promise<void> {
    for (const i of this.targets) await this.put(i, buf);
  }

  private collectPax(piece: Buffer): void {
    const data = piece.subarray(0, Math.max(0, this.dataLeft));
    this.dataLeft -= data.length;
    this.pax!.push(data);
    this.paxBytes += data.length;
  }

  /** A pax `size` record would override the header's size field: the split would frame the member wrongly. */
  private checkPax(): void {
    const records = parsePax(Buffer.concat(this.pax!, this.paxBytes));
    this.pax = undefined;
    if (records === undefined) throw framingError('has a malformed pax header');
    if (records.includes('size')) throw framingError('has a pax header overriding a member size, which a base backup does not contain; refusing to split it');
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
  if (f[0]! & 0x80) {
    const n = f.subarray(1).readBigUInt64BE(3);
    if (f[0] !== 0x80 || f.readUInt16BE(1) !== 0 || f[3] !== 0 || n > BigInt(Number.MAX_SAFE_INTEGER)) throw framingError(`has an impossible size field (${headerName(h)})`);
    return Number(n);
  }
  return octal(f, 'size', h);
}

/** Refuses a block that is no ustar header: wrong magic or a checksum that does not match. */
export function checkHeader(h: Buffer): void {
  // POSIX "ustar\0" (what pg_basebackup writes) or GNU "ustar  \0".
  if (h.toString('latin1', 257, 262) !== 'ustar') throw framingError('has a block where a member header should be that is no tar header (lost framing?)');
  const stored = octal(h.subarray(148, 156), 'checksum', h);
  // The checksum is the sum of the header's bytes with its own field counted as spaces;
  // some old tars summed signed bytes.
  let unsigned = 8 * 0x20;
  let signed = 8 * 0x20;
  for (let i = 0; i < BLOCK; i++) {
    if (i >= 148 && i < 156) continue;
    unsigned += h[i]!;
    signed += (h[i]! << 24) >> 24;
  }
  if (stored !== unsigned && stored !== signed) throw framingError(`has a header with a bad checksum (${headerName(h)}): corrupt or mis-framed`);
}

/** An octal numeric field (NUL or space terminated). */
function octal(f: Buffer, what: string, h: Buffer): number {
  const text = f.toString('latin1').replace(/[\0 ]+$/, '').replace(/^ +/, '');
  if (!/^[0-7]*$/.test(text)) throw framingError(`has a header whose ${what} field is not a number (${headerName(h)})`);
  return text === '' ? 0 : Number.parseInt(text, 8);
}

function headerName(h: Buffer): string {
  const name = h.toString('utf8', 0, 100).replace(/\0.*$/s, '');
  return JSON.stringify(name.slice(0, 200));
}

/** The keys of a pax extended header's records ("<len> <key>=<value>\n"), or undefined if malformed. */
function parsePax(buf: Buffer): string[] | undefined {
  const keys: string[] = [];
  let at = 0;
  while (at < buf.length) {
    const space = buf.indexOf(0x20, at);
    if (space < 0) return undefined;
    const lenText = buf.toString('latin1', at, space);
    if (!/^[0-9]+$/.test(lenText)) return undefined;
    const len = Number(lenText);
    if (len <= space - at + 1 || at + len > buf.length || buf[at + len - 1] !== 0x0a) return undefined;
    const record = buf.toString('utf8', space + 1, at + len - 1);
    const eq = record.indexOf('=');
    if (eq < 0) return undefined;
    keys.push(record.slice(0, eq));
    at += len;
  }
  return keys;
}
