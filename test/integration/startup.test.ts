import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CLI } from '../support/cli.js';

// Fast start: --help and validate must not load the heavy SDKs; adapters import them lazily.
const TRACE = path.resolve(import.meta.dirname, '..', 'support', 'trace-imports.mjs');
const HEAVY = /node_modules\/(pg|pg-[a-z-]+|execa|twilio|ioredis|@aws-sdk|@smithy|pino|prom-client|playwright-core)\//;
const RUNBOOKS = path.resolve(import.meta.dirname, '..', '..', 'runbooks');
const ROOT = path.resolve(import.meta.dirname, '..', '..');

/**
 * The modules a command loaded: package files Node loaded itself, and the package files inside
 * each file of drctl's bundle it loaded (small packages such as zod are bundled).
 */
function importsOf(args: string[]): string[] {
  const r = spawnSync(process.execPath, ['--import', TRACE, CLI, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  const meta = JSON.parse(readFileSync(path.join(ROOT, 'dist', 'build-meta.json'), 'utf8')) as { outputs: Record<string, { inputs: Record<string, unknown> }> };
  const urls = r.stderr.split('\n').filter((l) => l.startsWith('IMPORT ')).map((l) => l.slice(7));
  return urls.flatMap((u) => {
    if (u.includes('/node_modules/')) return [u];
    const out = meta.outputs[path.relative(ROOT, fileURLToPath(u))];
    expect(out, `${u} is not in dist/build-meta.json`).toBeDefined();
    return Object.keys(out?.inputs ?? {}).map((i) => `/${i}`);
  });
}

describe('start-up', () => {
  it('--help loads no SDK, no zod, no yaml', () => {
    const mods = importsOf(['--help']);
    expect(mods.some((m) => m.includes('/commander/'))).toBe(true);
    expect(mods.filter((m) => HEAVY.test(m) || /\/(zod|yaml)\//.test(m))).toEqual([]);
    // Colours are for runs: the help text loads no colour library either.
    expect(mods.filter((m) => /\/picocolors\//.test(m))).toEqual([]);
  });

  it('validate of every shipped runbook loads no SDK', () => {
    const mods = importsOf(['validate', `${RUNBOOKS}/backup.yaml`, `${RUNBOOKS}/restore.yaml`, `${RUNBOOKS}/demo-drill.yaml`]);
    expect(mods.some((m) => m.includes('/zod/'))).toBe(true);
    expect(mods.filter((m) => HEAVY.test(m))).toEqual([]);
  });
});
