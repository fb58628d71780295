import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { validateAction, validateWorkflow } from '@action-validator/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CLI, tempDir } from '../support/cli.js';

// The GitHub Action and the example workflow that uses it: both checked against the action and
// workflow JSON schemas (@action-validator/core, SchemaStore's schemas), then for what a schema
// cannot see: every ${{ inputs.x }} is declared, the example passes only declared inputs, the
// reports are uploaded even after a failed drill. The drill step's own bash runs here too,
// against the built drctl, with a fake $GITHUB_OUTPUT and $GITHUB_STEP_SUMMARY.

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const ACTION_TEXT = readFileSync(path.join(ROOT, 'action.yml'), 'utf8');
const WORKFLOW_TEXT = readFileSync(path.join(ROOT, 'examples', 'github-actions', 'nightly-drill.yml'), 'utf8');

interface ActionStep {
  id?: string;
  name?: string;
  if?: string;
  uses?: string;
  run?: string;
  shell?: string;
  env?: Record<string, string>;
  with?: Record<string, string>;
}
interface ActionFile {
  inputs: Record<string, { required?: boolean; default?: string }>;
  outputs: Record<string, { value: string }>;
  runs: { using: string; steps: ActionStep[] };
}
interface Workflow {
  jobs: Record<string, { steps: ActionStep[] }>;
}

/** Problems beyond the schema; empty for a usable action. */
function actionProblems(text: string): string[] {
  const problems = validateAction(text).errors.map((e) => `schema: ${'path' in e ? e.path : ''} ${e.title} ${e.detail ?? ''}`.trim());
  if (problems.length) return problems;
  const a = parse(text) as ActionFile;
  if (a.runs.using !== 'composite') problems.push('not a composite action');
  for (const m of text.matchAll(/\$\{\{\s*inputs\.([\w-]+)\s*\}\}/g)) if (!a.inputs[m[1]!]) problems.push(`inputs.${m[1]} is not declared`);
  for (const s of a.runs.steps) if (s.run && !s.shell) problems.push(`step ${s.name ?? s.id}: a composite run step needs shell`);
  const node = a.runs.steps.find((s) => s.uses?.startsWith('actions/setup-node@'));
  if (!node) problems.push('Node is not set up');
  const upload = a.runs.steps.find((s) => s.uses?.startsWith('actions/upload-artifact@'));
  if (!upload) problems.push('no upload-artifact step');
  else if (!/always\(\)/.test(upload.if ?? '')) problems.push('reports are not uploaded after a failed drill');
  const drill = a.runs.steps.find((s) => s.id === 'drill');
  if (!drill?.run?.includes('drctl drill')) problems.push('no drctl drill step');
  for (const ext of ['xml', 'md']) if (!drill?.run?.includes(`--report "$base.${ext}"`)) problems.push(`no .${ext} report`);
  return problems;
}

let root: string;
beforeAll(() => {
  root = tempDir('drctl-action-');
});
afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('action.yml', () => {
  it('is a valid composite action that drills and uploads the reports', () => {
    expect(actionProblems(ACTION_TEXT)).toEqual([]);
  });

  it('the checks catch a broken action', () => {
    expect(actionProblems(ACTION_TEXT.replace('  using: composite\n  steps:', '  using: composite\n  stepz:')).some((p) => p.startsWith('schema:'))).toBe(true);
    expect(actionProblems(ACTION_TEXT.replace('${{ inputs.runbook }}', '${{ inputs.run-book }}'))).toContain('inputs.run-book is not declared');
    expect(actionProblems(ACTION_TEXT.replace(/\n {6}if: always\(\)\n/, '\n'))).toContain('reports are not uploaded after a failed drill');
  });

  it("the drill step's script runs drctl drill with the vars and writes the outputs, summary and reports", () => {
    const a = parse(ACTION_TEXT) as ActionFile;
    const step = a.runs.steps.find((s) => s.id === 'drill')!;
    const bin = path.join(root, 'bin');
    mkdirSync(bin);
    writeFileSync(path.join(bin, 'drctl'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
    chmodSync(path.join(bin, 'drctl'), 0o755);
    const work = path.join(root, 'work');
    mkdirSync(work);
    const run = (env: Record<string, string>) => {
      writeFileSync(path.join(root, 'output'), '');
      writeFileSync(path.join(root, 'summary'), '');
      return spawnSync('bash', ['--noprofile', '--norc', '-e', '-o', 'pipefail', '-c', step.run!], {
        cwd: work,
        encoding: 'utf8',
        env: {
          ...process.env,
          PATH: `${bin}:${process.env.PATH}`,
          NO_COLOR: '1',
          DRCTL_STATE_DIR: path.join(root, 'state'),
          GITHUB_OUTPUT: path.join(root, 'output'),
          GITHUB_STEP_SUMMARY: path.join(root, 'summary'),
          RUNBOOK: path.join(ROOT, 'test', 'fixtures', 'runbooks', 'quick-drill.yaml'),
          ARGS: '--compare 3 --log-level error',
          REPORT_DIR: 'reports',
          REPORT_NAME: 'drill',
          USE_SUDO: 'false',
          ...env,
        },
      });
    };
    const ok = run({ VARS: 'label=from the action\n\n' });
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    const outputs = readFileSync(path.join(root, 'output'), 'utf8');
    expect(outputs).toContain('exit-code=0\n');
    expect(outputs).toContain('junit=reports/drill.xml\n');
    for (const ext of ['xml', 'md', 'html']) expect(existsSync(path.join(work, 'reports', `drill.${ext}`))).toBe(true);
    expect(readFileSync(path.join(root, 'summary'), 'utf8')).toContain('# DR drill: quick-drill');
    const report = readFileSync(path.join(work, 'reports', 'drill.md'), 'utf8');
    expect(report).toContain('| validate |');
    // A bad input fails the step with drctl's exit code, and the outputs still say so.
    const bad = run({ VARS: 'nosuchinput=1' });
    expect(bad.status).toBe(2);
    expect(readFileSync(path.join(root, 'output'), 'utf8')).toContain('exit-code=2\n');
  });
});

describe('examples/github-actions/nightly-drill.yml', () => {
  it('is a valid workflow that uses the action with declared inputs only', () => {
    expect(validateWorkflow(WORKFLOW_TEXT).errors).toEqual([]);
    const action = parse(ACTION_TEXT) as ActionFile;
    const wf = parse(WORKFLOW_TEXT) as Workflow;
    const uses = Object.values(wf.jobs).flatMap((j) => j.steps).filter((s) => s.uses && /(^\.\/?$|\/drctl@)/.test(s.uses));
    expect(uses.length).toBe(1);
    const withKeys = Object.keys(uses[0]!.with ?? {});
    expect(withKeys.filter((k) => !action.inputs[k])).toEqual([]);
    for (const [name, input] of Object.entries(action.inputs)) if (input.required) expect(withKeys).toContain(name);
  });

  it('the schema check catches a broken workflow', () => {
    expect(validateWorkflow(WORKFLOW_TEXT.replace('runs-on: ubuntu-latest', 'runs_on: ubuntu-latest')).errors.length).toBeGreaterThan(0);
  });
});
