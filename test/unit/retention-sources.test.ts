import { describe, expect, it } from 'vitest';
import type { Manifest } from '../../src/repository/manifest.js';
import { decideRetention } from '../../src/repository/retention.js';

// Which backups count as "the same database" for retention: a base backup's cluster (its
// system identifier, whatever host name it was reached by), a logical dump's database in its
// cluster, and the host and port where a manifest records no system identifier.

const at = (h: number) => new Date(Date.UTC(2026, 10, 23, h)).toISOString();

function backup(id: string, hour: number, kind: 'base' | 'logical', source: Manifest['source']): Manifest {
  return {
    format: 2,
    id,
    kind,
    tool: { name: 'drctl', version: '0', host: 'h' },
    source,
    startedAt: at(hour),
    stoppedAt: at(hour),
    durationMs: 0,
    recoveryPoint: at(hour),
    encrypted: false,
    objects: [{ path: 'data/x', size: 1, storedSize: 1, sha256: '0'.repeat(64) }],
    size: 1,
    storedSize: 1,
    ...(kind === 'base' ? { pg: { startLsn: '0/0', stopLsn: '0/0', timeline: 1, walStart: '000000010000000000000002', walStop: '000000010000000000000002' } } : {}),
    checksum: '',
  };
}

const kept = (backups: Manifest[], keepLast: number) => decideRetention(backups, { keepLast }, new Date(at(23))).keep.map((k) => k.id).sort();

describe('retention per database', () => {
  it('base backups count per cluster: by system identifier, across host names and the database they connected to', () => {
    const a = { port: 5432, systemIdentifier: '7300000000000000001' };
    const b = { port: 5432, systemIdentifier: '7300000000000000002' };
    const backups = [
      backup('A1', 1, 'base', { ...a, host: 'db-a', database: 'postgres' }),
      backup('B1', 2, 'base', { ...b, host: 'db-b', database: 'postgres' }),
      // After a failover the same cluster answers under another name.
      backup('A2', 3, 'base', { ...a, host: 'db-a2', database: 'app' }),
      backup('A3', 4, 'base', { ...a, host: 'db-a2', database: 'postgres' }),
    ];
    expect(kept(backups, 2)).toEqual(['A2', 'A3', 'B1']);
  });

  it('logical dumps count per database of a cluster; without a system identifier, per host and port', () => {
    const backups = [
      backup('billing-1', 1, 'logical', { host: 'db', port: 5432, database: 'billing', systemIdentifier: '7300000000000000001' }),
      backup('app-1', 2, 'logical', { host: 'db', port: 5432, database: 'app', systemIdentifier: '7300000000000000001' }),
      backup('app-2', 3, 'logical', { host: 'db', port: 5432, database: 'app', systemIdentifier: '7300000000000000001' }),
      // The same name on another server: another database.
      backup('other-app-1', 4, 'logical', { host: 'other', port: 5432, database: 'app', systemIdentifier: '7300000000000000009' }),
      backup('old-app-1', 5, 'logical', { host: 'old', port: 5433, database: 'app' }),
      backup('old-app-2', 6, 'logical', { host: 'old', port: 5433, database: 'app' }),
    ];
    expect(kept(backups, 1)).toEqual(['app-2', 'billing-1', 'old-app-2', 'other-app-1']);
    expect(decideRetention(backups, { keepLast: 1 }).keep.find((k) => k.id === 'billing-1')?.why).toBe('newest logical backup of billing on db:5432');
  });
});
