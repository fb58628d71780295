import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { builtInBackupKinds, Registry } from '../../src/adapters/registry.js';
import { defineAction, type Adapter } from '../../src/adapters/types.js';
import { IntegrityError } from '../../src/errors.js';
import { Manifest } from '../../src/repository/manifest.js';
import { Repository } from '../../src/repository/repository.js';
import { z } from 'zod';

// A backup kind is whatever a registered adapter declares: the manifest's kind is an open name,
// checked against the adapters' kinds when the repository is read.

const settings = { env: {}, config: {} };
const mysqlRestore = defineAction({ name: 'mysql.restore', summary: 'restore', input: z.object({}), outputs: [], describe: () => 'restore', run: async () => ({}) });
/** An adapter folder as a new one would be: it declares its own backup kind. */
const mysql: Adapter = { actions: [mysqlRestore], backupKinds: [{ name: 'mysql', restore: mysqlRestore }] };
const withMysql = () => [...builtInBackupKinds(), ...new Registry([mysql]).kinds.keys()];

async function repoWith(kinds: string[]): Promise<{ url: string; ids: Record<string, string> }> {
  const url = `file://${mkdtempSync(path.join(os.tmpdir(), 'kinds-'))}`;
  const repo = await Repository.open(url, settings, { create: true, kinds: withMysql(), notice: () => {} });
  const ids: Record<string, string> = {};
  let minute = 0;
  for (const kind of kinds) {
    const at = new Date(Date.UTC(2026, 10, 25, 9, minute++));
    const id = await repo.newBackupId(kind, at);
    const entry = await repo.writeObject(id, 'dump', Readable.from([Buffer.from(`${kind} data`)]));
    await repo.commit({ id, kind, source: { database: 'app' }, startedAt: at.toISOString(), stoppedAt: at.toISOString(), durationMs: 0, recoveryPoint: at.toISOString(), objects: [entry] });
    ids[kind] = id;
  }
  return { url, ids };
}

describe('backup kinds', () => {
  it('the built-in adapters declare the kinds drctl always had', () => {
    expect(builtInBackupKinds().sort()).toEqual(['base', 'env', 'logical', 'redis']);
  });

  it('a kind an adapter declares round-trips through the repository', async () => {
    const { url, ids } = await repoWith(['logical', 'mysql']);
    const repo = await Repository.open(url, settings, { kinds: withMysql() });
    const cat = await repo.catalog();
    expect(cat.backups.map((b) => b.kind)).toEqual(['logical', 'mysql']);
    expect(cat.damaged).toEqual([]);
    expect((await repo.resolve(ids.mysql!)).kind).toBe('mysql');
    expect((await repo.resolve('latest', ['mysql'])).id).toBe(ids.mysql);
    expect((await repo.resolve('latest', ['logical'])).id).toBe(ids.logical);
  });

  it('a manifest of a kind no adapter declares is refused with one line naming it; the others stay listed', async () => {
    const { url, ids } = await repoWith(['logical', 'mysql', 'env']);
    const repo = await Repository.open(url, settings, { kinds: builtInBackupKinds() });
    const cat = await repo.catalog();
    expect(cat.backups.map((b) => b.kind)).toEqual(['logical', 'env']);
    expect(cat.damaged).toHaveLength(1);
    expect(cat.damaged[0]!.id).toBe(ids.mysql);
    expect(cat.damaged[0]!.problem).toMatch(/^unknown backup kind "mysql" \(this drctl knows [a-z, ]+\)$/);
    const err = await repo.resolve(ids.mysql!).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IntegrityError);
    expect((err as Error).message).toBe(`backup ${ids.mysql}: ${cat.damaged[0]!.problem}`);
    // "latest" of any kind (backups show) is the newest backup this drctl can restore.
    expect((await repo.resolve('latest', undefined, { anySource: true })).id).toBe(ids.env);
  });

  it('a backup of an undeclared kind is never written', async () => {
    const { url } = await repoWith([]);
    const repo = await Repository.open(url, settings, { kinds: builtInBackupKinds() });
    const entry = await repo.writeObject('x-mysql', 'dump', Readable.from([Buffer.from('x')]));
    const at = new Date().toISOString();
    await expect(repo.commit({ id: 'x-mysql', kind: 'mysql', source: {}, startedAt: at, stoppedAt: at, durationMs: 0, recoveryPoint: at, objects: [entry] })).rejects.toThrow('backup kind "mysql" is declared by no adapter');
  });

  it('kind names are well-formed and declared once', () => {
    const bad = (name: string): Adapter => ({ actions: [], backupKinds: [{ name, restore: mysqlRestore }] });
    expect(() => new Registry([bad('My SQL')])).toThrow('backup kind "My SQL": use lower-case letters, digits and dashes');
    expect(() => new Registry([mysql, bad('mysql')])).toThrow('backup kind "mysql" is declared twice');
    const manifest = (kind: string) => Manifest.safeParse({ format: 2, id: 'a', kind, tool: { name: 'drctl', version: '0', host: 'h' }, source: {}, startedAt: '', stoppedAt: '', durationMs: 0, recoveryPoint: '', encrypted: false, objects: [{ path: 'p', size: 0, storedSize: 0, sha256: '0'.repeat(64) }], size: 0, storedSize: 0, checksum: '' });
    expect(manifest('logical').success).toBe(true);
    expect(manifest('mysql').success).toBe(true);
    expect(manifest('../x').success).toBe(false);
  });
});
