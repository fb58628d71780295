import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// Runs the built CLI as users do: a child process with no TTY, its own env, and its exit code.

export const CLI = path.resolve(import.meta.dirname, '..', '..', 'dist', 'cli.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout + stderr, for "never appears anywhere" checks. */
  all: string;
}

export interface CliOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  input?: string;
  timeoutMs?: number;
  /** Called with the child once it started (to send signals). */
  onSpawn?: (child: import('node:child_process').ChildProcess) => void;
}

export function tempDir(prefix = 'drctl-test-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function drctl(args: string[], o: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1', DRCTL_STATE_DIR: o.env?.DRCTL_STATE_DIR ?? tempDir('drctl-state-'), ...o.env };
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
    const child = spawn(process.execPath, [CLI, ...args], { cwd: o.cwd ?? tempDir(), env: env as NodeJS.ProcessEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let all = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
      all += d;
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
      all += d;
    });
    if (o.input !== undefined) child.stdin.end(o.input);
    else child.stdin.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, all });
    });
    o.onSpawn?.(child);
  });
}
