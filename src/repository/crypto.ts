import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, scrypt as scryptCb, timingSafeEqual, type Hmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { promisify } from 'node:util';
import { UsageError } from '../errors.js';

// Optional encryption: AES-256-GCM in authenticated frames. Each frame's nonce carries its
// index and its AAD says whether it is the last, so a flipped bit, reordered or dropped frames,
// and truncation are all detected.
//
// Format 2: a random 32-byte master key, wrapped (AES-256-GCM) by a key derived from the
// passphrase with scrypt, so a passphrase change re-wraps it and touches no data. Every object
// gets its own key, HKDF-SHA256 from the master key and a random salt in the object's header
// (no nonce is ever reused, whatever the number of objects), and its identity (its repository
// path, or the WAL file name) is in every frame's associated data, so an object moved or
// swapped under another name fails authentication.
// Format 1 (read, and written into format-1 repositories only after an upgrade never): the
// scrypt output itself was the one key, with an 8-byte random nonce prefix per object.

const scrypt = promisify(scryptCb) as (pw: string, salt: Buffer, len: number, o: { N: number; r: number; p: number; maxmem: number }) => Promise<Buffer>;
const MAGIC1 = Buffer.from('DRCE1');
const MAGIC2 = Buffer.from('DRCE2');
const FRAME = 1024 * 1024;
const TAG = 16;
const WRAP_AAD = Buffer.from('drctl master key v2');

/** Format 1: the key is scrypt(passphrase), checked against keyCheck. */
export interface KdfParams1 {
  kdf: 'scrypt';
  salt: string;
  N: number;
  r: number;
  p: number;
  keyCheck: string;
}

/** Format 2: scrypt derives the key that wraps the master key. */
export interface KdfParams2 {
  kdf: 'scrypt';
  salt: string;
  N: number;
  r: number;
  p: number;
  cipher: 'aes-256-gcm';
  /** base64 of nonce (12) + encrypted master key (32) + tag (16). */
  wrappedKey: string;
}

/** OWASP's scrypt recommendation: N=2^17, r=8, p=1 (128 MiB per derivation). */
const SCRYPT = { N: 1 << 17, r: 8, p: 1 };

/** The passphrase from DRCTL_ENCRYPTION_KEY or DRCTL_ENCRYPTION_KEY_FILE, if set. */
export async function passphraseFromEnv(env: Readonly<Record<string, string | undefined>>, name = 'DRCTL_ENCRYPTION_KEY'): Promise<string | undefined> {
  if (env[name]) return env[name];
  const file = env[`${name}_FILE`];
  if (!file) return undefined;
  let text: string;
  try {
    text = (await readFile(file, 'utf8')).trim();
  } catch {
    throw new UsageError('usage.key', `${name}_FILE=${file}: cannot read it`);
  }
  if (!text) throw new UsageError('usage.key', `${name}_FILE=${file}: the file is empty`);
  return text;
}

function derive(passphrase: string, p: { salt: string; N: number; r: number; p: number }): Promise<Buffer> {
  // scrypt needs 128 * N * r bytes; maxmem leaves room above that.
  return scrypt(passphrase, Buffer.from(p.salt, 'base64'), 32, { N: p.N, r: p.r, p: p.p, maxmem: 128 * p.N * p.r + 32 * 1024 * 1024 });
}

/** Format 1: derives the key and checks it against the repository's check value. */
export async function unlock1(passphrase: string, params: KdfParams1): Promise<Buffer | undefined> {
  const key = await derive(passphrase, params);
  const want = Buffer.from(params.keyCheck, 'hex');
  const got = Buffer.from(createHmac('sha256', key).update('drctl key check v1').digest('hex'), 'hex');
  return want.length === got.length && timingSafeEqual(want, got) ? key : undefined;
}

/** Wraps `master` (new random one when absent) under a fresh salt derived from `passphrase`. */
export async function wrapMasterKey(passphrase: string, master: Buffer = randomBytes(32)): Promise<{ params: KdfParams2; master: Buffer }> {
  const base = { kdf: 'scrypt' as const, salt: randomBytes(16).toString('base64'), ...SCRYPT };
  const kek = await derive(passphrase, base);
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', kek, iv);
  c.setAAD(WRAP_AAD);
  const body = Buffer.concat([c.update(master), c.final()]);
  return { params: { ...base, cipher: 'aes-256-gcm', wrappedKey: Buffer.concat([iv, body, c.getAuthTag()]).toString('base64') }, master };
}

/** The master key, or undefined when the passphrase is wrong. */
export async function unwrapMasterKey(passphrase: string, params: KdfParams2): Promise<Buffer | undefined> {
  const kek = await derive(passphrase, params);
  const w = Buffer.from(params.wrappedKey, 'base64');
  if (w.length !== 12 + 32 + TAG) return undefined;
  const d = createDecipheriv('aes-256-gcm', kek, w.subarray(0, 12));
  d.setAAD(WRAP_AAD);
  d.setAuthTag(w.subarray(12 + 32));
  try {
    return Buffer.concat([d.update(w.subarray(12, 12 + 32)), d.final()]);
  } catch {
    return undefined;
  }
}

function hkdf(master: Buffer, salt: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', master, salt, info, 32));
}

/**
 * The repository's keys: the master key, and whether objects written before format 2 (one
 * key, no identity) may be read with it.
 */
export class RepoKeys {
  private walKey: Buffer | undefined;
  constructor(
    readonly master: Buffer,
    /** Format-1 objects (DRCE1) are accepted: the repository is, or was upgraded from, format 1. */
    readonly acceptFormat1: boolean,
  ) {}

  /** Keyed hash of a WAL file's plaintext for its archived name: the name reveals nothing. */
  walHasher(): Hmac {
    this.walKey ??= hkdf(this.master, Buffer.alloc(0), 'drctl wal name v2');
    return createHmac('sha256', this.walKey);
  }

  encryptStream(identity: string): Transform {
    return encryptStream2(this.master, identity);
  }

  decryptStream(identity: string): Transform {
    return decryptStream(this, identity);
  }

  /** Encrypts a small document whole (manifests, history). */
  seal(identity: string, plain: Buffer): Promise<Buffer> {
    return collect(this.encryptStream(identity), plain);
  }

  /** Decrypts a small document; DecryptError when it is not ours, tampered with, or moved. */
  open(identity: string, stored: Buffer): Promise<Buffer> {
    return collect(this.decryptStream(identity), stored);
  }
}

/** True when the bytes start like an encrypted drctl object (either format). */
export function looksEncrypted(b: Buffer): boolean {
  const head = b.subarray(0, 5);
  return head.equals(MAGIC1) || head.equals(MAGIC2);
}

async function collect(t: Transform, input: Buffer): Promise<Buffer> {
  const out: Buffer[] = [];
  t.on('data', (c: Buffer) => out.push(c));
  const done = new Promise<void>((resolve, reject) => {
    t.on('end', resolve);
    t.on('error', reject);
  });
  t.end(input);
  await done;
  return Buffer.concat(out);
}

function nonce(prefix: Buffer, index: number): Buffer {
  const n = Buffer.alloc(12);
  prefix.copy(n, 0, 0, 8);
  n.writeUInt32BE(index, 8);
  return n;
}

function aad(prefix: Buffer, index: number, last: boolean): Buffer {
  const a = Buffer.alloc(prefix.length + 5);
  prefix.copy(a);
  a.writeUInt32BE(index, prefix.length);
  a[prefix.length + 4] = last ? 1 : 0;
  return a;
}

/** What each frame of one object is sealed with. */
interface FrameKeys {
  key: Buffer;
  noncePrefix: Buffer;
  aadPrefix: Buffer;
}

function keys2(master: Buffer, header: Buffer, identity: string): FrameKeys {
  const id = Buffer.from(identity, 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(id.length);
  return {
    key: hkdf(master, header.subarray(MAGIC2.length), 'drctl object key v2'),
    noncePrefix: Buffer.alloc(8),
    aadPrefix: Buffer.concat([header, len, id]),
  };
}

/** Plaintext in, format-2 encrypted frames out, bound to `identity`. */
function encryptStream2(master: Buffer, identity: string): Transform {
  const header = Buffer.concat([MAGIC2, randomBytes(16)]);
  const k = keys2(master, header, identity);
  let parts: Buffer[] = [];
  let size = 0;
  let index = 0;
  let started = false;
  const seal = (t: Transform, plain: Buffer, last: boolean) => {
    const c = createCipheriv('aes-256-gcm', k.key, nonce(k.noncePrefix, index));
    c.setAAD(aad(k.aadPrefix, index, last));
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
function decryptStream(keys: RepoKeys, identity: string): Transform {
  let buf: Buffer = Buffer.alloc(0);
  let parts: Buffer[] = [];
  let size = 0;
  let need = MAGIC2.length + 16;
  let k: FrameKeys | undefined;
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
        if (!k) {
          const magic = buf.subarray(0, 5);
          if (magic.equals(MAGIC2)) {
            const header = Buffer.from(buf.subarray(0, MAGIC2.length + 16));
            k = keys2(keys.master, header, identity);
            buf = buf.subarray(header.length);
          } else if (magic.equals(MAGIC1)) {
            if (!keys.acceptFormat1) throw new DecryptError('a format-1 encrypted object in a repository created with format 2');
            const header = Buffer.from(buf.subarray(0, MAGIC1.length + 8));
            k = { key: keys.master, noncePrefix: header.subarray(MAGIC1.length), aadPrefix: header };
            buf = buf.subarray(header.length);
          } else throw new DecryptError('not an encrypted drctl object');
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
          const d = createDecipheriv('aes-256-gcm', k.key, nonce(k.noncePrefix, index));
          d.setAAD(aad(k.aadPrefix, index, last));
          d.setAuthTag(buf.subarray(5 + len, 5 + len + TAG));
          let plain: Buffer;
          try {
            plain = Buffer.concat([d.update(buf.subarray(5, 5 + len)), d.final()]);
          } catch {
            throw new DecryptError(`frame ${index} failed authentication (corrupted, reordered, moved from another name, or wrong key)`);
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
      if (!k || !done || size) cb(new DecryptError('truncated: the final frame is missing'));
      else cb();
    },
  });
}
