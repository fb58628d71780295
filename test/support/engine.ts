import { builtInRegistry } from '../../src/adapters/registry.js';
import type { EngineEvent } from '../../src/engine/events.js';
import { resolveInputs } from '../../src/engine/inputs.js';
import { runRunbook } from '../../src/engine/run.js';
import type { RunReport } from '../../src/engine/step-result.js';
import { parseRunbook } from '../../src/runbook/load.js';
import { tempDir } from './cli.js';

// Runs a runbook given as YAML text through the real engine and real adapters.

export interface EngineRun {
  report: RunReport;
  events: EngineEvent[];
}

export async function runYaml(
  yaml: string,
  o: { vars?: Record<string, string>; env?: Record<string, string>; confirm?: (m: string) => Promise<boolean>; signal?: AbortSignal; fromStep?: string; resumeFrom?: { runId: string; steps: RunReport['steps'] } } = {},
): Promise<EngineRun> {
  const registry = builtInRegistry();
  const { runbook } = parseRunbook(yaml, 'test.yaml', registry);
  const env = { ...process.env, ...o.env };
  const events: EngineEvent[] = [];
  const report = await runRunbook({
    runbook,
    file: 'test.yaml',
    registry,
    inputs: resolveInputs(runbook, o.vars ?? {}, env),
    env,
    config: {},
    stateDir: tempDir('drctl-state-'),
    emit: (e) => events.push(e),
    signal: o.signal ?? new AbortController().signal,
    confirm: o.confirm ?? (async () => true),
    fromStep: o.fromStep,
    resumeFrom: o.resumeFrom,
  });
  return { report, events };
}

/** A runbook with the given steps (YAML list items, indented by two). */
export function runbook(steps: string, extra = ''): string {
  return `apiVersion: drctl/v1\nname: t\n${extra}steps:\n${steps}`;
}
