import { createCipheriv, createDecipheriv, createHmac, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { promisify } from 'node:util';
import { UsageError } from '../errors.js';

// Optional encryption: AES-256-GCM in authenticated frames. Each frame's nonce carries its
// index and its AAD says whether it is the last, so a flipped bit, reordered or dropped frames,
// and truncation are all detected. The key is derived per repository with scrypt from a
// passphrase (salt and cost in drctl-repo.json); a key check value lets a wrong key fail at
// once with one clear line instead of as corruption.

const scrypt = promisify(scryptCb) as (pw: string, salt: Buffer, len: number, o: { N: number; r: number; p: number; maxmem: number }) => Promise<Buffer>;
const MAGIC = Buffer.from('DRCE1');
const FRAME = 1024 * 1024;
const TAG = 16;

export interface KdfParams {
  kdf: 'scrypt';
  salt: string;
  N: number;
  r: number;
  p: number;
  keyCheck: string;
}

/** The passphrase from DRCTL_ENCRYPTION_KEY or DRCTL_ENCRYPTION_KEY_FILE, if set. */
export async function passphraseFromEnv(env: Readonly<Record<string, string | undefined>>): Promise<string | undefined> {
  if (env.DRCTL_ENCRYPTION_KEY) return env.DRCTL_ENCRYPTION_KEY;
  const file = env.DRCTL_ENCRYPTION_KEY_FILE;
  if (!file) return undefined;
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    throw new UsageError(`DRCTL_ENCRYPTION_KEY_FILE=${file}: cannot read it`, 'usage.key');
  }
}

export async function newKdf(passphrase: string): Promise<{ params: KdfParams; key: Buffer }> {
  const base = { kdf: 'scrypt' as const, salt: randomBytes(16).toString('base64'), N: 1 << 15, r: 8, p: 1 };
  const key = await derive(passphrase, base);
  return { params: { ...base, keyCheck: keyCheck(key) }, key };
}

/** Derives the key and checks it against the repository's check value. */
export async function unlock(passphrase: string, params: KdfParams): Promise<Buffer | undefined> {
  const key = await derive(passphrase, params);
  const want = Buffer.from(params.keyCheck, 'hex');
  const got = Buffer.from(keyCheck(key), 'hex');
  return want.length === got.length && timingSafeEqual(want, got) ? key : undefined;
}

function derive(passphrase: string, p: Pick<KdfParams, 'salt' | 'N' | 'r' | 'p'>): Promise<Buffer> {
  return scrypt(passphrase, Buffer.from(p.salt, 'base64'), 32, { N: p.N, r: p.r, p: p.p, maxmem: 256 * 1024 * 1024 });
}

function keyCheck(key: Buffer): string {
  return createHmac('sha256', key).update('drctl key check v1').digest('hex');
}

function nonce(prefix: Buffer, index: number): Buffer {
  const n = Buffer.alloc(12);
  prefix.copy(n, 0, 0, 8);
  n.writeUInt32BE(index, 8);
  return n;
}

function aad(header: Buffer, index: number, last: boolean): Buffer {
  const a = Buffer.alloc(header.length + 5);
  header.copy(a);
  a.writeUInt32BE(index, header.length);
  a[header.length + 4] = last ? 1 : 0;
  return a;
}

/** Plaintext in, encrypted frames out. */
export function encryptStream(key: Buffer): Transform {
  const prefix = randomBytes(8);
  const header = Buffer.concat([MAGIC, prefix]);
  let parts: Buffer[] = [];
  let size = 0;
  let index = 0;
  let started = false;
  const seal = (t: Transform, plain: Buffer, last: boolean) => {
    const c = createCipheriv('aes-256-gcm', key, nonce(prefix, index));
    c.setAAD(aad(header, index, last));
    const body = Buffer.concat([c.update(plain), c.final()]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(body.length);
    t.push(Buffer.concat([Buffer.from([last ? 1 : 0]), len, body, c.getAuthTag()]));
    index++;
  };
  return new Transform({
    transform(chunk: Buffer, _e, cb: TransformCallback) {
      if (!started) {
        this.push(header);
        started = true;
      }
      parts.push(chunk);
      size += chunk.length;
      // Keep at least one byte back so the last frame is the one flush() seals as last.
      if (size > FRAME) {
        let all: Buffer = Buffer.concat(parts, size);
        while (all.length > FRAME) {
          seal(this, all.subarray(0, FRAME), false);
          all = all.subarray(FRAME);
        }
        parts = [all];
        size = all.length;
      }
      cb();
    },
    flush(cb: TransformCallback) {
      if (!started) this.push(header);
      seal(this, Buffer.concat(parts, size), true);
      cb();
    },
  });
}

export class DecryptError extends Error {}

/** Encrypted frames in, plaintext out; errors with DecryptError on any tampering. */
export function decryptStream(key: Buffer): Transform {
  let buf: Buffer = Buffer.alloc(0);
  let parts: Buffer[] = [];
  let size = 0;
  let need = MAGIC.length + 8;
  let header: Buffer | undefined;
  let index = 0;
  let done = false;
  return new Transform({
    transform(chunk: Buffer, _e, cb: TransformCallback) {
      // Gather chunks until a whole frame is there: one copy per frame, not per chunk.
      parts.push(chunk);
      size += chunk.length;
      if (size < need) return cb();
      buf = Buffer.concat(parts, size);
      parts = [];
      size = 0;
      try {
        if (!header) {
          if (buf.length < MAGIC.length + 8) return cb();
          if (!buf.subarray(0, MAGIC.length).equals(MAGIC)) throw new DecryptError('not an encrypted drctl object');
          header = Buffer.from(buf.subarray(0, MAGIC.length + 8));
          buf = buf.subarray(MAGIC.length + 8);
        }
        while (buf.length >= 5) {
          if (done) throw new DecryptError('data after the final frame');
          const last = buf[0] === 1;
          const len = buf.readUInt32BE(1);
          if (len > FRAME) throw new DecryptError('corrupt frame length');
          if (buf.length < 5 + len + TAG) {
            need = 5 + len + TAG;
            break;
          }
          const d = createDecipheriv('aes-256-gcm', key, nonce(header.subarray(MAGIC.length), index));
          d.setAAD(aad(header, index, last));
          d.setAuthTag(buf.subarray(5 + len, 5 + len + TAG));
          let plain: Buffer;
          try {
            plain = Buffer.concat([d.update(buf.subarray(5, 5 + len)), d.final()]);
          } catch {
            throw new DecryptError(`frame ${index} failed authentication (corrupted, reordered or wrong key)`);
          }
          buf = buf.subarray(5 + len + TAG);
          index++;
          if (last) done = true;
          if (plain.length) this.push(plain);
          need = 5;
        }
        if (buf.length) {
          parts = [buf];
          size = buf.length;
        }
        if (buf.length < 5) need = 5;
        cb();
      } catch (err) {
        cb(err as Error);
      }
    },
    flush(cb: TransformCallback) {
      if (!header || !done || size) cb(new DecryptError('truncated: the final frame is missing'));
      else cb();
    },
  });
}
