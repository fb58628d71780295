import type { FileHandle } from 'node:fs/promises';

// The start of an RDB file: its aux fields (ctime is when the saving process began, by the
// server's clock) and the key counts of the first database (RESIZEDB). Enough to tell whether a
// file is the snapshot a given server just wrote, without reading the dataset.

export interface RdbHeader {
  aux: Record<string, string>;
  /** The first non-empty database and its counts; null when the file holds no keys. */
  firstDb?: { db: number; keys: number; expires: number } | null;
}

export async function readRdbHeader(fh: FileHandle): Promise<RdbHeader | undefined> {
  const buf = Buffer.alloc(64 * 1024);
  const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
  return parseRdbHeader(buf.subarray(0, bytesRead));
}

export function parseRdbHeader(b: Buffer): RdbHeader | undefined {
  if (b.length < 9 || b.toString('latin1', 0, 5) !== 'REDIS') return undefined;
  let pos = 9;
  const byte = (): number => {
    if (pos >= b.length) throw new RangeError('short');
    return b[pos++]!;
  };
  // Length encoding; `special` is set for the integer/LZF string encodings.
  const length = (): { n: number; special: boolean } => {
    const first = byte();
    const type = first >> 6;
    if (type === 0) return { n: first & 0x3f, special: false };
    if (type === 1) return { n: ((first & 0x3f) << 8) | byte(), special: false };
    if (type === 3) return { n: first & 0x3f, special: true };
    if (first === 0x80) {
      const n = b.readUInt32BE(pos);
      pos += 4;
      return { n, special: false };
    }
    if (first === 0x81) {
      const n = Number(b.readBigUInt64BE(pos));
      pos += 8;
      return { n, special: false };
    }
    throw new RangeError('bad length');
  };
  const string = (): string => {
    const { n, special } = length();
    if (!special) {
      if (pos + n > b.length) throw new RangeError('short');
      const s = b.toString('latin1', pos, pos + n);
      pos += n;
      return s;
    }
    if (n === 0) return String(b.readInt8(pos++));
    if (n === 1) {
      const v = b.readInt16LE(pos);
      pos += 2;
      return String(v);
    }
    if (n === 2) {
      const v = b.readInt32LE(pos);
      pos += 4;
      return String(v);
    }
    if (n === 3) {
      const clen = length().n;
      length();
      pos += clen;
      return '';
    }
    throw new RangeError('bad encoding');
  };
  const aux: Record<string, string> = {};
  try {
    for (;;) {
      const op = byte();
      if (op === 0xfa) {
        const k = string();
        aux[k] = string();
      } else if (op === 0xff) {
        return { aux, firstDb: null };
      } else if (op === 0xfe) {
        const db = length().n;
        if (byte() !== 0xfb) return { aux };
        const keys = length().n;
        return { aux, firstDb: { db, keys, expires: length().n } };
      } else {
        // Functions, module data: the aux fields are all we get.
        return { aux };
      }
    }
  } catch {
    return Object.keys(aux).length ? { aux } : undefined;
  }
}
