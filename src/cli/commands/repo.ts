import type { Command } from 'commander';
import type { Action } from '../program.js';
import { registerRepoUnlock } from './repo-unlock.js';

// drctl repo: the repository itself.
export function registerRepo(program: Command, act: Action): void {
  const repo = program.command('repo');
  registerRepoUnlock(repo, act);
}
