import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { validate } from 'dockerfile-utils';
import { describe, expect, it } from 'vitest';

// No container engine here, so the image is checked statically: dockerfile-utils (the linter
// behind the VS Code Docker extension) for syntax, then what the image must be: multi-stage,
// Node 20, the PostgreSQL 15 client tools, zstd, bsdtar and redis-cli, a numeric non-root
// user, drctl as the entrypoint, and every COPY source present and not excluded by .dockerignore.

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');

interface Instruction {
  keyword: string;
  args: string;
}

/** Instructions with continuation lines joined and comments dropped. */
function instructions(text: string): Instruction[] {
  const joined = text.split('\n').filter((l) => !/^\s*#/.test(l)).join('\n').replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const [keyword = '', ...rest] = l.split(/\s+/);
      return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
    });
}

/** Problems with an image definition; empty when it is what drctl ships. */
function imageProblems(text: string): string[] {
  const problems = validate(text).map((d) => `lint: line ${d.range.start.line + 1}: ${d.message}`);
  const ins = instructions(text);
  const froms = ins.filter((i) => i.keyword === 'FROM');
  if (froms.length < 2) problems.push('not multi-stage');
  const args = Object.fromEntries(ins.filter((i) => i.keyword === 'ARG').map((i) => i.args.split('=') as [string, string]));
  for (const f of froms) {
    const image = f.args.split(/\s+/)[0]!.replace(/^\$\{(\w+)\}$/, (_, name: string) => args[name] ?? '');
    if (!/^node:20(\.\d+)*-(bookworm-)?slim$/.test(image)) problems.push(`base image ${image} is not node:20 slim`);
  }
  const last = ins.lastIndexOf(froms[froms.length - 1]!);
  const final = ins.slice(last);
  if (!final.some((i) => i.keyword === 'COPY' && i.args.startsWith('--from='))) problems.push('the final stage copies nothing from the build stage');
  const installs = final.filter((i) => i.keyword === 'RUN' && /apt-get install/.test(i.args)).map((i) => i.args).join(' ');
  for (const pkg of ['postgresql-client-15', 'zstd', 'libarchive-tools', 'redis-tools']) if (!new RegExp(`\\b${pkg}\\b`).test(installs)) problems.push(`${pkg} not installed`);
  const user = final.filter((i) => i.keyword === 'USER').pop();
  if (!user) problems.push('no USER: runs as root');
  else if (!/^[1-9]\d*(:\d+)?$/.test(user.args)) problems.push(`USER ${user.args}: not a numeric non-root user`);
  const entry = final.filter((i) => i.keyword === 'ENTRYPOINT').pop();
  let argv: unknown;
  try {
    argv = entry ? JSON.parse(entry.args) : undefined;
  } catch {
    argv = undefined;
  }
  if (!Array.isArray(argv) || argv[argv.length - 1] !== 'drctl') problems.push('ENTRYPOINT is not drctl in exec form');
  return problems;
}

describe('Dockerfile', () => {
  it('lints clean and is a multi-stage, non-root image whose entrypoint is drctl', () => {
    expect(imageProblems(dockerfile)).toEqual([]);
  });

  it('the checks catch a broken image definition', () => {
    const rootImage = dockerfile.replace(/^USER .*$/m, '');
    expect(imageProblems(rootImage)).toContain('no USER: runs as root');
    expect(imageProblems(dockerfile.replace(/^USER .*$/m, 'USER drctl'))).toContain('USER drctl: not a numeric non-root user');
    expect(imageProblems(dockerfile.replace(/^ENTRYPOINT .*$/m, 'ENTRYPOINT drctl'))).toContain('ENTRYPOINT is not drctl in exec form');
    expect(imageProblems(dockerfile.replace(/ zstd libarchive-tools/, ' libarchive-tools'))).toContain('zstd not installed');
    expect(imageProblems(dockerfile.replace(/ libarchive-tools/, ''))).toContain('libarchive-tools not installed');
    expect(imageProblems(dockerfile.replace(/^FROM \$\{NODE_IMAGE\} AS build$/m, 'FORM node:20-slim AS build')).some((p) => p.startsWith('lint:'))).toBe(true);
  });

  it('copies only files that exist and that .dockerignore lets through', () => {
    const ignore = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    // The ignore file is an allow-list: everything is excluded, then named paths are let in.
    expect(ignore[0]).toBe('*');
    const allowed = ignore.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));
    expect(allowed).not.toContain('.env');
    expect(allowed).not.toContain('node_modules');
    const sources = instructions(dockerfile)
      .filter((i) => i.keyword === 'COPY' && !i.args.startsWith('--from='))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThan(0);
    for (const s of sources) {
      expect(existsSync(path.join(ROOT, s)), s).toBe(true);
      expect(allowed.some((a) => s === a || s.startsWith(`${a}/`)), `${s} excluded by .dockerignore`).toBe(true);
    }
  });
});
