import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import os from 'node:os';
import type { TestProject } from 'vitest/node';

// vitest globalSetup: each test file works in its own temp root (test/support/temp-root.ts),
// named with this run's id; at the end no root of this run may be left. Roots of other runs
// (other checkouts testing at the same time) are none of this run's business, so only this
// run's prefix is looked at.

declare module 'vitest' {
  export interface ProvidedContext {
    tempRootPrefix: string;
  }
}

export default function setup(project: TestProject): () => void {
  const prefix = `drctl-root-${randomBytes(3).toString('hex')}-`;
  project.provide('tempRootPrefix', prefix);
  return () => {
    const left = readdirSync(os.tmpdir()).filter((n) => n.startsWith(prefix));
    if (left.length) throw new Error(`test temp roots left behind in ${os.tmpdir()}: ${left.join(', ')}`);
  };
}
