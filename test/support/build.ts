import { execFileSync } from 'node:child_process';

// vitest globalSetup: the CLI tests run dist/cli.js, so build it once before any test.
export default function setup(): void {
  execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
}
