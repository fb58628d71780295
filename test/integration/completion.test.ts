import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, drctl, tempDir } from '../support/cli.js';

// Shell completion as bash runs it: the script from `drctl completion bash` is sourced in a
// real bash, COMP_WORDS/COMP_CWORD are set as bash sets them for a TAB, and COMPREPLY is read
// back. Backup ids come from a real file:// repository through `drctl __complete backups`.

let root: string;
let bin: string;
let script: string;
let repo: string;
let backupId: string;
const KEY = 'completion-test-key-canary';

function env(): NodeJS.ProcessEnv {
  return { ...process.env, PATH: `${bin}:${process.env.PATH}`, NO_COLOR: '1', DRCTL_STATE_DIR: path.join(root, 'state'), DRCTL_REPO: '', DRCTL_ENCRYPTION_KEY: KEY, DRCTL_COMPLETE_TIMEOUT: '2m' };
}

/** What bash offers for a TAB after `words` (the last word is the one being completed). */
function complete(...words: string[]): string[] {
  const r = spawnSync(
    'bash',
    ['--norc', '--noprofile', '-c', 'source "$0"; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _drctl_complete; printf "%s\\n" "${COMPREPLY[@]}"', script, 'drctl', ...words],
    { cwd: path.join(root, 'cwd'), encoding: 'utf8', env: env() },
  );
  expect(r.stderr).toBe('');
  return r.stdout.split('\n').filter(Boolean).sort();
}

beforeAll(async () => {
  root = tempDir('drctl-completion-');
  bin = path.join(root, 'bin');
  mkdirSync(bin);
  mkdirSync(path.join(root, 'cwd'));
  writeFileSync(path.join(bin, 'drctl'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
  chmodSync(path.join(bin, 'drctl'), 0o755);
  const gen = await drctl(['completion', 'bash']);
  expect(gen.code).toBe(0);
  script = path.join(root, 'drctl.bash');
  writeFileSync(script, gen.stdout);
  // An encrypted repository with one backup in it (an env-file backup needs no database).
  repo = `file://${path.join(root, 'repo')}`;
  writeFileSync(path.join(root, 'app.env'), 'A=1\n');
  const b = await drctl(['--log-level', 'error', 'run', 'env-backup', '--var', `file=${path.join(root, 'app.env')}`, '--var', `repo=${repo}`], { env: { DRCTL_STATE_DIR: path.join(root, 'state'), DRCTL_ENCRYPTION_KEY: KEY } });
  expect(b.code).toBe(0);
  const list = await drctl(['backups', 'list', '--repo', repo, '--json'], { env: { DRCTL_ENCRYPTION_KEY: KEY } });
  backupId = (JSON.parse(list.stdout) as { id: string }[])[0]!.id;
}, 60_000);

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('drctl completion bash', () => {
  it('completes commands: drctl ba → backup, backups', () => {
    expect(complete('ba')).toEqual(['backup', 'backups']);
    expect(complete('')).toEqual(expect.arrayContaining(['run', 'drill', 'verify-backups', 'completion']));
    expect(complete('')).not.toContain('__complete');
  });

  it('completes subcommands, flags and flag values', () => {
    expect(complete('backups', '')).toEqual(['expire', 'list', 'show']);
    expect(complete('verify-backups', '--max')).toEqual(['--max-age']);
    expect(complete('backups', 'expire', '--keep')).toEqual(['--keep-days', '--keep-last']);
    expect(complete('--log-format', '')).toEqual(['json', 'pretty']);
    // A global flag's value is skipped when finding the command.
    expect(complete('--config', 'x.yaml', 'dr')).toEqual(['drill']);
    expect(complete('completion', '')).toEqual(['bash', 'fish', 'zsh']);
  });

  it('completes shipped runbook names for commands that take a runbook', () => {
    expect(complete('plan', 'full')).toEqual(['full-dr-drill']);
    expect(complete('drill', 'pitr')).toEqual(['pitr-restore']);
    expect(complete('validate', 'redis-')).toEqual(['redis-backup', 'redis-restore']);
  });

  it('completes backup ids from the repository named on the line', () => {
    expect(complete('restore', '--repo', repo, '--backup', '')).toEqual(['latest', backupId].sort());
    expect(complete('backups', 'show', '--repo', repo, '')).toEqual(['latest', backupId].sort());
  });

  it('offers no ids, and prints no error, when the repository is missing', async () => {
    const missing = `file://${path.join(root, 'no-such-repo')}`;
    expect(complete('restore', '--repo', missing, '--backup', '')).toEqual(['latest']);
    const r = await drctl(['__complete', 'backups', '--repo', missing]);
    expect(r.code).toBe(0);
    expect(r.all).toBe('');
  });

  it('zsh and fish scripts cover the same commands', async () => {
    const zsh = await drctl(['completion', 'zsh']);
    expect(zsh.code).toBe(0);
    expect(zsh.stdout).toContain('bashcompinit');
    expect(zsh.stdout).toContain('complete -F _drctl_complete drctl');
    const fish = await drctl(['completion', 'fish']);
    expect(fish.code).toBe(0);
    for (const c of ['backup', 'backups', 'verify-backups', 'drill']) expect(fish.stdout).toContain(` -a ${c} -d `);
    expect(fish.stdout).toContain('(drctl __complete backups 2>/dev/null)');
    const bad = await drctl(['completion', 'tcsh']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  });
});
