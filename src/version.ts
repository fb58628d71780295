import { readFileSync } from 'node:fs';

// drctl's version, from package.json (dist/ and src/ are both one level below the root).
let cached: string | undefined;
export function drctlVersion(): string {
  if (cached) return cached;
  try {
    cached = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    cached = '0.0.0';
  }
  return cached;
}
