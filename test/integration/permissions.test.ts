import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { postgresIds } from '../support/postgres.js';
import { CLI, drctl, tempDir } from '../support/cli.js';

// archive_command runs drctl as the server's user. When that user cannot read or write the
// repository (created by root, or by a deploy user), PostgreSQL's log is all anyone sees on
// the night: it must say what was refused and as whom, in one line, not "internal error".

const ids = postgresIds();

function asPostgres(args: string[], env: Record<string, string>, cwd: string): { status: number | null; stderr: string; stdout: string } {
  const r = spawnSync('runuser', ['-u', 'postgres', '--', 'env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), process.execPath, CLI, ...args], { cwd, encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

describe.skipIf(!ids)('a repository the user cannot access', () => {
  it('wal-push as the server user into a root-only repository: exit 1, one line naming the path and the user', async () => {
    const base = tempDir('drctl-perm-');
    chmodSync(base, 0o755);
    const repoDir = path.join(base, 'repo');
    const init = await drctl(['repo', 'init', '--repo', `file://${repoDir}`]);
    expect(init.code, init.all).toBe(0);
    chmodSync(repoDir, 0o700);
    const walDir = path.join(base, 'pg_wal');
    mkdirSync(walDir, { mode: 0o777 });
    chmodSync(walDir, 0o777);
    const segment = '000000010000000000000001';
    writeFileSync(path.join(walDir, segment), Buffer.alloc(16 * 1024 * 1024, 1), { mode: 0o644 });

    const r = asPostgres(['wal-push', `pg_wal/${segment}`], { DRCTL_REPO: `file://${repoDir}`, HOME: base }, base);
    expect(r.status).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    const line = lines[0]!;
    expect(line).toMatch(/^drctl: permission denied: \w+ /);
    expect(line.startsWith(`drctl: permission denied: open ${repoDir}/`) || line.startsWith(`drctl: permission denied: mkdir ${repoDir}/`), line).toBe(true);
    expect(line.endsWith(` as user postgres (uid ${ids!.uid})`), line).toBe(true);
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
    expect(readdirSync(repoDir)).not.toContain('wal');
  });

  it('a command against a repository the user may read but not write says so', async () => {
    const base = tempDir('drctl-perm-');
    chmodSync(base, 0o755);
    const repoDir = path.join(base, 'repo');
    expect((await drctl(['repo', 'init', '--repo', `file://${repoDir}`])).code).toBe(0);
    chmodSync(repoDir, 0o755);
    const walDir = path.join(base, 'pg_wal');
    mkdirSync(walDir);
    chmodSync(walDir, 0o777);
    const segment = '000000010000000000000002';
    writeFileSync(path.join(walDir, segment), Buffer.alloc(16 * 1024 * 1024, 2), { mode: 0o644 });

    const r = asPostgres(['wal-push', `pg_wal/${segment}`], { DRCTL_REPO: `file://${repoDir}`, HOME: base }, base);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^drctl: permission denied: \w+ \S+ as user postgres/);
    expect(r.stderr).not.toMatch(/internal error/);
  });
});
