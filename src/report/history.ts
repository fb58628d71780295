import { mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { RunReport } from '../engine/step-result.js';
import { writeAtomic } from '../atomic-file.js';

// Run history under the state dir: one JSON report per run, named so that names sort by time.

export function historyDir(stateDir: string): string {
  return path.join(stateDir, 'history', 'runs');
}

export async function saveRun(stateDir: string, report: RunReport): Promise<string> {
  const dir = historyDir(stateDir);
  // Run history names hosts, databases and errors: private to drctl's user.
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, `${report.runId}-${report.runbook}.json`);
  await writeAtomic(file, `${JSON.stringify(report, null, 2)}\n`, { private: true });
  return file;
}

/** Newest first. Unreadable entries are skipped: history must never stop a recovery. */
export async function listRuns(stateDir: string, opts: { runbook?: string; limit?: number } = {}): Promise<RunReport[]> {
  let names: string[];
  try {
    names = await readdir(historyDir(stateDir));
  } catch {
    return [];
  }
  const out: RunReport[] = [];
  for (const name of names.filter((n) => n.endsWith('.json')).sort().reverse()) {
    try {
      const r = JSON.parse(await readFile(path.join(historyDir(stateDir), name), 'utf8')) as RunReport;
      if (opts.runbook && r.runbook !== opts.runbook) continue;
      out.push(r);
      if (opts.limit && out.length >= opts.limit) break;
    } catch {
      continue;
    }
  }
  return out;
}
