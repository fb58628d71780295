import { execFileSync } from 'node:child_process';

// vitest globalSetup of the full suite: the CLI tests run dist/cli.js, so build it once before
// any test. The unit tests (vitest.unit.config.ts) import the sources and skip this.

export default function setup(): void {
  execFileSync('npm', ['run', 'build'], { stdio: 'inherit' });
}
