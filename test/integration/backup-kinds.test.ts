import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { builtInBackupKinds } from '../../src/adapters/registry.js';
import { Repository } from '../../src/repository/repository.js';
import { drctl } from '../support/cli.js';

// A repository holding a backup of a kind this drctl's adapters do not declare (written by a
// newer drctl, or one with another adapter): listed as not trusted, the others still usable.

describe('backups of an unknown kind', () => {
  it('backups list lists the others and names the kind; backups show refuses it in one line', async () => {
    const url = `file://${mkdtempSync(path.join(os.tmpdir(), 'kinds-'))}`;
    const repo = await Repository.open(url, { env: {}, config: {} }, { create: true, kinds: [...builtInBackupKinds(), 'mysql'], notice: () => {} });
    const ids: string[] = [];
    for (const [i, kind] of ['env', 'mysql'].entries()) {
      const at = new Date(Date.UTC(2026, 10, 25, 9, i));
      const id = await repo.newBackupId(kind, at);
      const entry = await repo.writeObject(id, 'data', Readable.from([Buffer.from(kind)]));
      await repo.commit({ id, kind, source: {}, startedAt: at.toISOString(), stoppedAt: at.toISOString(), durationMs: 0, recoveryPoint: at.toISOString(), objects: [entry] });
      ids.push(id);
    }
    const [envId, mysqlId] = ids as [string, string];

    const list = await drctl(['backups', 'list', '--repo', url]);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(envId);
    expect(list.stdout).not.toContain(mysqlId);
    expect(list.stderr).toMatch(new RegExp(`^warning: ${mysqlId} not listed: unknown backup kind "mysql" \\(this drctl knows [a-z, ]+\\)\\n$`));

    const show = await drctl(['backups', 'show', mysqlId, '--repo', url]);
    expect(show.code).toBe(1);
    expect(show.stdout).toBe('');
    expect(show.stderr.trim().split('\n')).toHaveLength(1);
    expect(show.stderr).toContain(`backup ${mysqlId}: unknown backup kind "mysql"`);
    expect(show.stderr).not.toMatch(/\n\s+at /);

    const known = await drctl(['backups', 'show', 'latest', '--repo', url]);
    expect(known.code).toBe(0);
    expect(JSON.parse(known.stdout).id).toBe(envId);
  });
});
