import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// The layering holds: no import circle between files, and no file imports a layer above its
// own. Lazy `import()` counts like a static import — laziness changes when a module loads,
// not what depends on what.

const SRC = path.resolve(import.meta.dirname, '..', '..', 'src');

/** Top to bottom; a file may import its own layer and any layer below it. */
const LAYERS: string[][] = [
  ['cli.ts', 'cli'],
  ['report'],
  ['engine'],
  ['runbook'],
  ['adapters'],
  ['pitr'],
  ['repository'],
  ['time', 'config.ts', 'net', 'process', 'format.ts', 'atomic-file.ts', 'prometheus-textfile.ts', 'errors.ts', 'redact.ts', 'version.ts', 'package-root.ts', 'testing-faults.ts', 'cjs-exports.ts', 'map-limit.ts'],
];

/**
 * The one circle allowed: the command table loads `completion` lazily, and completion needs
 * the whole table to list the commands.
 */
const ALLOWED_CIRCLES = new Set(['cli/commands/completion.ts -> cli/main.ts -> cli/commands/completion.ts']);


function layerOf(file: string): number {
  const top = path.relative(SRC, file).split(path.sep)[0]!;
  const i = LAYERS.findIndex((l) => l.includes(top));
  if (i < 0) throw new Error(`${top}: not in any layer of test/unit/architecture.test.ts`);
  return i;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Every project file a file imports (static, re-export or lazy), type-only imports included. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^import\s+)['"](\.[^'"]+)['"]/gm)].map((m) => m[1]!);
  return specs.map((s) => path.resolve(path.dirname(file), s.replace(/\.js$/, '.ts')));
}

const files = sources(SRC);
const graph = new Map(files.map((f) => [f, importsOf(f)]));
const rel = (f: string) => path.relative(SRC, f);

describe('architecture', () => {
  it('every import resolves to a source file', () => {
    const missing = [...graph].flatMap(([f, deps]) => deps.filter((d) => !graph.has(d)).map((d) => `${rel(f)} -> ${rel(d)}`));
    expect(missing).toEqual([]);
  });

  it('no exported function is defined in two files (copies drift apart)', () => {
    const where = new Map<string, string[]>();
    for (const f of files) {
      for (const m of readFileSync(f, 'utf8').matchAll(/^export (?:async )?function\*? ?([A-Za-z0-9_$]+)/gm)) where.set(m[1]!, [...(where.get(m[1]!) ?? []), rel(f)]);
    }
    expect([...where].filter(([, fs]) => fs.length > 1).map(([name, fs]) => `${name}: ${fs.join(', ')}`)).toEqual([]);
  });

  it('no file imports a layer above its own', () => {
    const upward = [...graph].flatMap(([f, deps]) => deps.filter((d) => graph.has(d) && layerOf(d) < layerOf(f)).map((d) => `${rel(f)} -> ${rel(d)}`));
    expect(upward).toEqual([]);
  });

  it('no import circle', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (f: string) => {
      state.set(f, 'open');
      stack.push(f);
      for (const d of graph.get(f) ?? []) {
        if (!graph.has(d)) continue;
        if (state.get(d) === 'open') cycles.push([...stack.slice(stack.indexOf(d)), d].map(rel).join(' -> '));
        else if (!state.has(d)) visit(d);
      }
      stack.pop();
      state.set(f, 'done');
    };
    for (const f of files) if (!state.has(f)) visit(f);
    expect([...new Set(cycles)].filter((c) => !ALLOWED_CIRCLES.has(c))).toEqual([]);
  });
});
