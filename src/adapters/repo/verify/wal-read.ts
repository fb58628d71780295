import { UsageError, errorMessage } from '../../../errors.js';
import { readWal } from '../../../pitr/wal-archive.js';
import { type WalObject } from '../../../pitr/wal-names.js';
import type { RepoHandle } from '../../../repository/repo-handle.js';
import { formatBytes } from '../../../format.js';
import { formatDuration } from '../../../time/duration.js';
import type { CheckResult } from './checks.js';

// The WAL read check: archived WAL re-read through the repository (decrypted, authenticated,
// hashed) and its size checked, all of it or a subset as restic's --read-data-subset picks
// one: "N%" a random sample, "n/m" the n-th of m fixed groups (so m runs cover everything).

export type Subset = { kind: 'all' } | { kind: 'percent'; percent: number } | { kind: 'part'; n: number; m: number };

/** Parses --read-data-subset: N% (0 < N ≤ 100) or n/m (1 ≤ n ≤ m). */
export function parseSubset(v: string | undefined, flag = '--read-data-subset'): Subset {
  if (v === undefined || v === '') return { kind: 'all' };
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(v);
  if (pct) {
    const percent = Number(pct[1]);
    if (percent > 0 && percent <= 100) return { kind: 'percent', percent };
  }
  const part = /^(\d+)\/(\d+)$/.exec(v);
  if (part) {
    const n = Number(part[1]);
    const m = Number(part[2]);
    if (n >= 1 && m >= 1 && n <= m) return { kind: 'part', n, m };
  }
  throw new UsageError('usage.subset', `${flag} ${v}: expected a percentage (10%) or a part n/m (1/7, n from 1 to m)`);
}

/** The files a subset selects; a part depends on the checksum in each file's name only, so it is stable. */
export function pickSubset<T extends { hash: string }>(files: T[], s: Subset, random: () => number = Math.random): T[] {
  if (s.kind === 'all') return files;
  if (s.kind === 'part') return files.filter((f) => Number.parseInt(f.hash.slice(0, 8), 16) % s.m === s.n - 1);
  const want = Math.min(files.length, Math.ceil((files.length * s.percent) / 100));
  const pool = [...files];
  for (let i = pool.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, want).sort((a, b) => (a.hash < b.hash ? -1 : 1));
}

function describe(s: Subset): string {
  return s.kind === 'all' ? 'all' : s.kind === 'percent' ? `a ${s.percent}% sample` : `part ${s.n}/${s.m}`;
}

/** Re-reads `files` (every one, or the subset): one result naming each file that failed. */
export async function walReadCheck(repo: RepoHandle, files: WalObject[], o: { segmentSize: number; subset: Subset; since: string; backup: string; signal?: AbortSignal }): Promise<CheckResult> {
  const t0 = Date.now();
  const chosen = pickSubset(files, o.subset);
  const failures: string[] = [];
  let bytes = 0;
  for (const w of chosen) {
    let n = 0;
    try {
      for await (const c of await readWal(repo, w, o.signal)) n += (c as Buffer).length;
      // A segment has the cluster's segment size exactly; .history/.partial/.backup files vary.
      if (w.name.length === 24 && n !== o.segmentSize) failures.push(`${w.name}: ${n} bytes, a WAL segment has ${o.segmentSize}`);
    } catch (err) {
      if (o.signal?.aborted) throw err;
      failures.push(errorMessage(err));
    }
    bytes += n;
  }
  const what = `${chosen.length} of ${files.length} WAL file(s) since ${o.since} (${describe(o.subset)})`;
  if (failures.length) return { name: 'wal-read', status: 'fail', figure: `${what}: ${failures.length} unreadable: ${failures.join('; ')}`, backup: o.backup };
  return { name: 'wal-read', status: 'pass', figure: `${what}, ${formatBytes(bytes)} re-read in ${formatDuration(Date.now() - t0)}`, backup: o.backup };
}
