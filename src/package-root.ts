import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// The installed package's root (where package.json, runbooks/ and dist/ live). The CLI runs as
// a bundle whose chunks sit at different depths below it, and the tests run the sources, so it
// is found by walking up to drctl's own package.json rather than by a fixed relative path.
let cached: string | undefined;

export function packageRoot(): string {
  if (cached) return cached;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file) && isDrctl(file)) return (cached = dir);
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`drctl's package.json was not found above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

function isDrctl(file: string): boolean {
  try {
    // By its command rather than its name alone: a fork or a scoped republish keeps `bin.drctl`.
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; bin?: Record<string, string> | string };
    return pkg.name === 'drctl' || (typeof pkg.bin === 'object' && pkg.bin !== null && 'drctl' in pkg.bin);
  } catch {
    return false;
  }
}
