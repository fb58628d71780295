import type { DrillSummary, RunReport } from '../engine/step-result.js';
import { summarizeDrill } from '../report/drills.js';
import { listRuns } from '../report/history.js';
import type { CliContext } from './context.js';
import { openRepository } from './open-repository.js';

// Where drills are remembered: the state dir always, and the repository's history/runs/ when
// there is a repository (so every machine that runs the drill sees the same record).

function repoUrl(ctx: CliContext, flag: string | undefined): string | undefined {
  return flag ?? ctx.config.repo ?? ctx.env.DRCTL_REPO;
}

// The drill's record is a by-product: a repository that cannot be read or written (read-only
// credentials in CI, a store that is down) costs a warning, never the drill's reports or its
// exit code. A URL that names no repository is not made one.
function warn(url: string, err: unknown): void {
  process.stderr.write(`warning: drill history not kept in ${url}: ${(err as Error).message}\n`);
}

async function openIfAny(ctx: CliContext, url: string | undefined) {
  if (!url) return undefined;
  try {
    return await openRepository(ctx, url);
  } catch (err) {
    warn(url, err);
    return undefined;
  }
}

/** The earlier drills of the same runbook, newest first. */
export async function previousDrills(ctx: CliContext, report: RunReport, flag: string | undefined, limit: number): Promise<DrillSummary[]> {
  const repo = await openIfAny(ctx, repoUrl(ctx, flag));
  let runs: RunReport[] = [];
  let keys: string[] | undefined;
  if (repo) {
    try {
      keys = (await repo.storage.list('history/runs/')).map((k) => k.key).filter((k) => k.endsWith(`-${report.runbook}.json`)).sort().reverse();
    } catch (err) {
      warn(repo.storage.location, err);
    }
  }
  if (repo && keys) {
    for (const k of keys) {
      try {
        runs.push(JSON.parse(await repo.getDocument(k, { legacyPlaintext: true })) as RunReport);
      } catch {
        // unreadable entries are skipped
      }
    }
  } else runs = await listRuns(ctx.stateDir, { runbook: report.runbook });
  return runs
    .filter((r) => r.kind === 'drill' && r.runId !== report.runId)
    .slice(0, limit)
    .map(summarizeDrill);
}

export async function saveDrillToRepo(ctx: CliContext, report: RunReport, flag: string | undefined): Promise<void> {
  const repo = await openIfAny(ctx, repoUrl(ctx, flag));
  if (!repo) return;
  try {
    await repo.putDocument(`history/runs/${report.runId}-${report.runbook}.json`, report);
  } catch (err) {
    warn(repo.storage.location, err);
  }
}
