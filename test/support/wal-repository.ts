import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pushWal } from '../../src/pitr/wal-archive.js';
import { Repository } from '../../src/repository/repository.js';

// A file repository with base backups and archived WAL made in memory, without a server: the
// manifests say which cluster and which WAL range, the segments' content does not matter.

export const seg = (n: number): string => `00000001000000000000${n.toString(16).toUpperCase().padStart(4, '0')}`;

export const day = (n: number): Date => new Date(Date.UTC(2026, 10, n));

export async function walRepository(prefix: string): Promise<Repository> {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return Repository.open(`file://${dir}`, { env: {}, config: {} }, { create: true, kinds: ['base', 'logical'], notice: () => {} });
}

/** A base backup of the cluster with system identifier `system`, needing segments start..stop. */
export async function base(repo: Repository, system: string, at: Date, start: number, stop: number): Promise<string> {
  const id = await repo.newBackupId('base', at);
  const entry = await repo.writeObject(id, 'base.0.tar.zst', Readable.from([Buffer.from(`base ${id}`)]));
  const t = at.toISOString();
  await repo.commit({
    id,
    kind: 'base',
    source: { systemIdentifier: system, host: 'db', port: 5432 },
    startedAt: t,
    stoppedAt: t,
    durationMs: 0,
    recoveryPoint: t,
    objects: [entry],
    pg: { startLsn: '0/0', stopLsn: '0/0', timeline: 1, walStart: seg(start), walStop: seg(stop) },
  });
  return id;
}

/** Segments `ns` archived as wal-push stores them. */
export async function archive(repo: Repository, ns: number[]): Promise<void> {
  const wal = mkdtempSync(path.join(os.tmpdir(), 'expire-wal-'));
  for (const n of ns) {
    writeFileSync(path.join(wal, seg(n)), `segment ${n}`);
    await pushWal(repo, path.join(wal, seg(n)));
  }
}
