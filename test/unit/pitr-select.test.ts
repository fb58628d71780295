import { describe, expect, it } from 'vitest';
import { OperationError, UsageError } from '../../src/errors.js';
import type { WalObject } from '../../src/pitr/wal-names.js';
import { planWal, selectBaseBackup } from '../../src/pitr/select.js';
import { ancestry } from '../../src/pitr/wal-names.js';
import { formatLsn, parseHistory, parseLsn, segmentForLsn, segmentName, segmentNumber } from '../../src/pitr/wal-names.js';
import type { Manifest } from '../../src/repository/manifest.js';

const SEG = 16 * 1024 * 1024;
const T0 = Date.parse('2026-11-23T09:00:00Z');
const min = (m: number) => new Date(T0 + m * 60_000);

function base(id: string, stoppedMin: number, walStart: string, walStop: string, timeline = 1): Manifest {
  return {
    format: 1,
    id,
    kind: 'base',
    tool: { name: 'drctl', version: '0', host: 'h' },
    source: {},
    startedAt: min(stoppedMin - 1).toISOString(),
    stoppedAt: min(stoppedMin).toISOString(),
    durationMs: 60_000,
    recoveryPoint: min(stoppedMin).toISOString(),
    encrypted: false,
    objects: [{ path: 'data/base.tar.gz', size: 1, storedSize: 1, sha256: '0'.repeat(64) }],
    size: 1,
    storedSize: 1,
    pg: { startLsn: '0/0', stopLsn: '0/0', timeline, walStart, walStop },
    checksum: '',
  };
}

function wal(name: string, archivedMin: number): WalObject {
  return { name, sha256: 'a'.repeat(64), key: `wal/${name.slice(0, 8)}/${name}-${'a'.repeat(64)}`, size: SEG, mtime: min(archivedMin) };
}

const s = (n: number, tli = 1) => segmentName(tli, BigInt(n), SEG);

describe('WAL names', () => {
  it('maps LSNs to segments and back', () => {
    expect(segmentForLsn(parseLsn('0/3000028'), 1, SEG)).toBe('000000010000000000000003');
    expect(segmentForLsn(parseLsn('1/FF000000'), 2, SEG)).toBe('0000000200000001000000FF');
    expect(segmentNumber('000000010000000200000003', SEG)).toBe(2n * 256n + 3n);
    expect(s(256)).toBe('000000010000000100000000');
    expect(formatLsn(parseLsn('16/B374D848'))).toBe('16/B374D848');
    expect(parseHistory('1\t0/3000000\tbefore 2026-11-23 09:41:00+00\n\n2\t0/5000000\tno recovery target specified\n')).toEqual([
      { parent: 1, switchLsn: 0x3000000n },
      { parent: 2, switchLsn: 0x5000000n },
    ]);
  });
});

describe('base backup selection', () => {
  const b1 = base('B1', 10, s(2), s(2));
  const b2 = base('B2', 30, s(5), s(5));
  it('refuses to choose between the base backups of two clusters, naming both; an id still chooses', () => {
    const cluster = (b: Manifest, sysid: string, host: string): Manifest => ({ ...b, source: { host, port: 5432, database: 'postgres', systemIdentifier: sysid } });
    const ours = cluster(b1, '7300000000000000001', 'db-a');
    const theirs = cluster(b2, '7300000000000000002', 'db-b');
    const refused = () => selectBaseBackup([ours, theirs], 'latest', 1, new Map());
    expect(refused).toThrow(UsageError);
    expect(refused).toThrow('the repository holds base backups of 2 clusters, cluster db-a:5432 (newest B1), cluster db-b:5432 (newest B2); pass --backup <id> to say which');
    // Before B2 ended, only one cluster's backups are candidates.
    expect(selectBaseBackup([ours, theirs], min(20), 1, new Map()).id).toBe('B1');
    // The same cluster under another host name (a failover, a restored cluster carrying on) is one.
    expect(selectBaseBackup([ours, cluster(b2, '7300000000000000001', 'db-c')], 'latest', 1, new Map()).id).toBe('B2');
  });
  it('picks the newest backup that ended before the target', () => {
    expect(selectBaseBackup([b1, b2], min(20), 1, new Map()).id).toBe('B1');
    expect(selectBaseBackup([b1, b2], min(31), 1, new Map()).id).toBe('B2');
    expect(selectBaseBackup([b2, b1], 'latest', 1, new Map()).id).toBe('B2');
  });
  it('refuses a target before every backup, naming the earliest', () => {
    expect(() => selectBaseBackup([b1, b2], min(5), 1, new Map())).toThrow(/no base backup ended before 2026-11-23T09:05:00.000Z: the earliest, B1, ended at 2026-11-23T09:10:00.000Z/);
    expect(() => selectBaseBackup([], min(5), 1, new Map())).toThrow(/no base backup in the repository/);
  });
  it('follows a timeline branch: a backup on the parent before the switch counts, one after it does not', () => {
    const anc = ancestry([{ parent: 1, switchLsn: 4n * BigInt(SEG) }]);
    const before = { ...b1, pg: { ...b1.pg!, stopLsn: '0/2000100' } };
    const after = { ...b2, pg: { ...b2.pg!, stopLsn: '0/5000100' } };
    expect(selectBaseBackup([before, after], 'latest', 2, anc).id).toBe('B1');
  });
});

describe('WAL coverage', () => {
  const b1 = base('B1', 10, s(2), s(2));
  const archive = [wal(s(2), 11), wal(s(3), 15), wal(s(4), 25), wal(s(5), 35)];
  it('stops at the first segment archived at or after the target', () => {
    const p = planWal(b1, min(20), archive, 1, new Map(), SEG);
    expect(p.files.map((f) => f.name)).toEqual([s(2), s(3), s(4)]);
    expect(planWal(b1, 'latest', archive, 1, new Map(), SEG).files).toHaveLength(4);
  });
  it('fails closed when the archive stops short of the target', () => {
    expect(() => planWal(b1, min(60), archive, 1, new Map(), SEG)).toThrow(/archived WAL does not reach 2026-11-23T10:00:00.000Z: it ends with 000000010000000000000005, archived 2026-11-23T09:35:00.000Z/);
  });
  it('a write time in whole seconds (S3) covers the rest of its second; a precise one does not', () => {
    const target = new Date(min(35).getTime() + 400);
    expect(planWal(b1, target, archive, 1, new Map(), SEG).files.map((f) => f.name)).toEqual([s(2), s(3), s(4), s(5)]);
    const precise = archive.map((w) => (w.name === s(5) ? { ...w, mtime: new Date(min(35).getTime() + 1) } : w));
    expect(() => planWal(b1, target, precise, 1, new Map(), SEG)).toThrow(/archived WAL does not reach 2026-11-23T09:35:00.400Z/);
  });
  it('finds a gap, also for latest', () => {
    const gappy = archive.filter((w) => w.name !== s(3));
    expect(() => planWal(b1, min(30), gappy, 1, new Map(), SEG)).toThrow(/gap in the WAL archive: 000000010000000000000003 is missing/);
    expect(() => planWal(b1, 'latest', gappy, 1, new Map(), SEG)).toThrow(OperationError);
  });
  it('refuses when the backup’s own WAL is missing', () => {
    expect(() => planWal(base('B', 10, s(2), s(3)), min(20), [wal(s(2), 11)], 1, new Map(), SEG)).toThrow(/needs WAL .* but 000000010000000000000003 is not in the archive/);
  });
  it('a target before a branch whose first segment is not archived yet: the parent’s copy of that segment serves', () => {
    // Timeline 2 began inside segment 3 (a restored server promoted there) and has not filled it yet.
    const anc = ancestry([{ parent: 1, switchLsn: 3n * BigInt(SEG) + 100n }]);
    const archive = [wal(s(2), 11), wal(s(3), 15), wal('00000002.history', 16), wal(s(4), 25)];
    const p = planWal(b1, min(14), archive, 2, anc, SEG);
    expect(p.files.map((f) => f.name)).toEqual(['00000002.history', s(2), s(3)]);
    // After the switch point timeline 2's own copy is needed: refused, naming it.
    expect(() => planWal(b1, min(20), archive, 2, anc, SEG)).toThrow(/000000020000000000000003, where timeline 2 begins, is not archived yet/);
    // 'latest' of a timeline with nothing archived beyond its branch: the branch point.
    expect(planWal(b1, 'latest', archive, 2, anc, SEG).files.map((f) => f.name)).toEqual(['00000002.history', s(2), s(3)]);
    // ... but with its later segments archived, the missing one is a gap.
    expect(() => planWal(b1, 'latest', [...archive, wal(s(4, 2), 30)], 2, anc, SEG)).toThrow(/000000020000000000000003, where timeline 2 begins, is not archived yet/);
  });
  it('switches timeline at the history file’s switch point', () => {
    const anc = ancestry([{ parent: 1, switchLsn: 3n * BigInt(SEG) + 100n }]);
    const tl2 = [wal(s(2), 11), wal(s(3), 15), wal('00000002.history', 16), wal(s(3, 2), 17), wal(s(4, 2), 40)];
    const p = planWal(b1, 'latest', tl2, 2, anc, SEG);
    expect(p.files.map((f) => f.name)).toEqual(['00000002.history', s(2), s(3, 2), s(4, 2)]);
  });
});
