import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ConfirmationError } from '../../src/errors.js';
import { tempDir } from '../support/cli.js';
import { runbook, runYaml } from '../support/engine.js';

/** Running or sleeping; a zombie waiting for its reaper counts as gone. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}

describe('engine', () => {
  it('kills a timed-out child and its grandchildren: nothing is orphaned', async () => {
    const dir = tempDir();
    const pids = path.join(dir, 'pids');
    // sh forks `sleep` (not exec) because a command follows it.
    const { report } = await runYaml(
      runbook(`  - id: hang\n    uses: shell.run\n    with: { command: "echo $$ > ${pids}; sleep 30 & echo $! >> ${pids}; wait; echo never" }\n    timeout: 700ms\n`),
    );
    const step = report.steps[0];
    expect(step?.status).toBe('failed');
    expect(step?.timedOut).toBe(true);
    expect(step?.reason).toBe('timed out after 700ms');
    // Far below the child's 30 s: the timeout stopped it (how fast depends on the machine).
    expect(step?.durationMs).toBeLessThan(25_000);
    expect(report.exitCode).toBe(1);
    // The kill was sent; wait for the processes to be gone (a zombie counts as gone) rather
    // than for a fixed time.
    const [shPid, sleepPid] = readFileSync(pids, 'utf8').trim().split('\n').map(Number);
    const deadline = Date.now() + 10_000;
    while ((alive(shPid as number) || alive(sleepPid as number)) && Date.now() < deadline) await sleep(20);
    expect(alive(shPid as number)).toBe(false);
    expect(alive(sleepPid as number)).toBe(false);
  });

  it('a command that leaves a process in the background holding its output is done when the shell exits', async () => {
    const pidFile = path.join(tempDir(), 'bg');
    const { report } = await runYaml(runbook(`  - id: bg\n    uses: shell.run\n    with: { command: "sleep 20 & echo $! > ${pidFile}; echo started" }\n`));
    expect(report.steps[0]).toMatchObject({ status: 'succeeded', outputs: { stdout: 'started', exitCode: 0 } });
    expect(report.steps[0]!.durationMs).toBeLessThan(15_000);
    // It was meant to keep running: it does.
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(alive(pid)).toBe(true);
    process.kill(pid, 'SIGKILL');
  });

  it('a step that finishes after its timeout still counts as timed out', async () => {
    // The child ignores SIGTERM and exits 0 after the deadline: the late success must not count.
    const { report } = await runYaml(runbook(`  - id: stubborn\n    uses: shell.run\n    with: { command: "trap '' TERM; sleep 1; echo done" }\n    timeout: 300ms\n`));
    expect(report.steps[0]).toMatchObject({ status: 'failed', timedOut: true, reason: 'timed out after 300ms' });
  });

  it('retries with backoff and counts the tries: success on the third', async () => {
    const counter = path.join(tempDir(), 'n');
    const { report, events } = await runYaml(
      runbook(
        `  - id: flaky\n    uses: shell.run\n    with: { command: "n=$(cat ${counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${counter}; test $n -ge 3" }\n    retries: { attempts: 5, backoff: 100ms }\n`,
      ),
    );
    expect(report.steps[0]?.status).toBe('succeeded');
    expect(report.steps[0]?.attempts).toBe(3);
    expect(readFileSync(counter, 'utf8').trim()).toBe('3');
    const waits = events.flatMap((e) => (e.type === 'step.retry' ? [e.waitMs] : []));
    expect(waits).toEqual([100, 200]);
    expect(report.exitCode).toBe(0);
  });

  it('gives up after the attempts it was given', async () => {
    const { report } = await runYaml(runbook(`  - id: bad\n    uses: shell.run\n    with: { command: "echo boom >&2; exit 3" }\n    retries: { attempts: 2, backoff: 10ms }\n`));
    expect(report.steps[0]).toMatchObject({ status: 'failed', attempts: 2, reason: 'command exited with 3: boom' });
    expect(report.status).toBe('failed');
  });

  it('jumps to the onFailure step, skips those between, runs finally, and still fails the run', async () => {
    const { report } = await runYaml(
      runbook(
        [
          '  - id: a\n    uses: shell.run\n    with: { command: "exit 1" }\n    onFailure: fix',
          '  - id: b\n    uses: shell.run\n    with: { command: "echo b" }',
          '  - id: fix\n    uses: shell.run\n    with: { command: "echo fixing after ${steps.a.status}" }',
        ].join('\n') + '\n',
        '',
      ) + 'finally:\n  - id: always\n    uses: shell.run\n    with: { command: "echo ${run.status}" }\n',
    );
    expect(report.steps.map((s) => [s.id, s.status])).toEqual([
      ['a', 'failed'],
      ['b', 'skipped'],
      ['fix', 'succeeded'],
      ['always', 'succeeded'],
    ]);
    expect(report.steps[2]?.outputs.stdout).toBe('fixing after failed');
    expect(report.steps[3]?.outputs.stdout).toBe('failed');
    expect(report.status).toBe('failed');
    expect(report.exitCode).toBe(1);
  });

  it('runs finally steps after an aborting failure, and skips the rest', async () => {
    const { report } = await runYaml(
      runbook('  - id: a\n    uses: shell.run\n    with: { command: "exit 1" }\n  - id: b\n    uses: shell.run\n    with: { command: "echo b" }\n') +
        'finally:\n  - id: f\n    uses: shell.run\n    with: { command: "echo cleanup" }\n',
    );
    expect(report.steps.map((s) => s.status)).toEqual(['failed', 'skipped', 'succeeded']);
    expect(report.steps[1]?.reason).toBe('not run: step "a" failed');
  });

  it('continues past a failure under onFailure: continue, and ignores critical: false failures', async () => {
    const cont = await runYaml(runbook('  - id: a\n    uses: shell.run\n    with: { command: "false" }\n    onFailure: continue\n  - id: b\n    uses: shell.run\n    with: { command: "true" }\n'));
    expect(cont.report.steps.map((s) => s.status)).toEqual(['failed', 'succeeded']);
    expect(cont.report.exitCode).toBe(1);
    const soft = await runYaml(runbook('  - id: a\n    uses: shell.run\n    with: { command: "false" }\n    critical: false\n  - id: b\n    uses: shell.run\n    with: { command: "true" }\n'));
    expect(soft.report.steps.map((s) => s.status)).toEqual(['failed', 'succeeded']);
    expect(soft.report.exitCode).toBe(0);
  });

  it('evaluates if: on outputs of earlier steps', async () => {
    const { report } = await runYaml(
      runbook(
        '  - id: probe\n    uses: shell.run\n    with: { command: "echo 5" }\n' +
          '  - id: big\n    uses: shell.run\n    with: { command: "echo big" }\n    if: "${steps.probe.outputs.stdout > 3}"\n' +
          '  - id: small\n    uses: shell.run\n    with: { command: "echo small" }\n    if: "steps.probe.outputs.stdout <= 3"\n',
      ),
    );
    expect(report.steps.map((s) => s.status)).toEqual(['succeeded', 'succeeded', 'skipped']);
  });

  it('exits 3 when the run succeeds but misses its RTO or an enforced budget', async () => {
    const rto = await runYaml(runbook('  - id: slow\n    uses: shell.run\n    with: { command: "sleep 0.3" }\n', 'targets: { rto: 100ms }\n'));
    expect(rto.report.status).toBe('succeeded');
    expect(rto.report.exitCode).toBe(3);
    expect(rto.report.verdicts[0]).toMatchObject({ name: 'rto', targetMs: 100, met: false });
    const flagged = await runYaml(runbook('  - id: slow\n    uses: shell.run\n    with: { command: "sleep 0.2" }\n    budget: 50ms\n'));
    expect(flagged.report.steps[0]?.overBudget).toBe(true);
    expect(flagged.report.exitCode).toBe(0);
    const enforced = await runYaml(runbook('  - id: slow\n    uses: shell.run\n    with: { command: "sleep 0.2" }\n    budget: { duration: 50ms, enforce: true }\n'));
    expect(enforced.report.exitCode).toBe(3);
  });

  it('a run that fails, however fast, is not recovered: no RTO or RPO is met, no budget of a failed step', async () => {
    const { report } = await runYaml(
      runbook('  - id: restore\n    uses: shell.run\n    with: { command: "exit 1" }\n    budget: { duration: 1h, enforce: true }\n', 'targets: { rto: 1h, rpo: 1h }\n'),
    );
    expect(report.status).toBe('failed');
    expect(report.exitCode).toBe(1);
    expect(report.measured).toMatchObject({ recovered: false });
    expect(report.measured.rtoMs).toBeUndefined();
    expect(report.verdicts).toEqual([
      { name: 'rto', targetMs: 3_600_000, met: false, notRecovered: true },
      { name: 'rpo', targetMs: 3_600_000, met: false, notRecovered: true },
    ]);
  });

  it('a with: value the action refuses is bad input: exit 2, not retried', async () => {
    const { report } = await runYaml(
      runbook('  - id: v\n    uses: repo.verify\n    with: { sizeBand: "${inputs.band}" }\n    retries: { attempts: 3, backoff: 10ms }\n', 'inputs: { band: { type: number, default: 2 } }\n'),
    );
    expect(report.steps[0]).toMatchObject({ status: 'failed', attempts: 1 });
    expect(report.steps[0]?.reason).toMatch(/^with\.sizeBand: /);
    expect(report.exitCode).toBe(2);
  });

  it('exits 4 when a confirmation is declined, without retrying', async () => {
    let asked = 0;
    const { report } = await runYaml(
      runbook('  - id: ok\n    uses: manual.confirm\n    with: { message: "Drop it?" }\n    retries: { attempts: 3, backoff: 10ms }\n  - id: drop\n    uses: shell.run\n    with: { command: "true" }\n'),
      { confirm: async () => (asked++, false) },
    );
    expect(asked).toBe(1);
    expect(report.status).toBe('declined');
    expect(report.exitCode).toBe(4);
    expect(report.steps[1]?.status).toBe('skipped');
    const noTty = await runYaml(runbook('  - id: ok\n    uses: manual.confirm\n    with: { message: "Drop it?" }\n'), {
      confirm: async () => {
        throw new ConfirmationError('confirm.noTty', 'no tty');
      },
    });
    expect(noTty.report.exitCode).toBe(4);
  });

  it('in finally: a declined confirmation exits 4, and a step refusing its input does not turn a failure into exit 2', async () => {
    const declined = await runYaml(runbook('  - id: ok\n    uses: shell.run\n    with: { command: "true" }\n') + 'finally:\n  - id: cleanup\n    uses: manual.confirm\n    with: { message: "Drop the scratch database?" }\n', {
      confirm: async () => {
        throw new ConfirmationError('confirm.noTty', 'no tty');
      },
    });
    expect(declined.report.status).toBe('declined');
    expect(declined.report.exitCode).toBe(4);
    const failed = await runYaml(
      runbook('  - id: check\n    uses: shell.run\n    with: { command: "exit 1" }\n', 'inputs: { band: { type: number, default: 2 } }\n') +
        'finally:\n  - id: page\n    uses: repo.verify\n    with: { sizeBand: "${inputs.band}" }\n',
    );
    expect(failed.report.steps.map((st) => st.status)).toEqual(['failed', 'failed']);
    expect(failed.report.exitCode).toBe(1);
  });

  it('stops the running step on interrupt, still runs finally, and exits 130', async () => {
    const ctl = new AbortController();
    const marker = path.join(tempDir(), 'finally-ran');
    setTimeout(() => ctl.abort(), 300);
    const { report } = await runYaml(
      runbook('  - id: long\n    uses: shell.run\n    with: { command: "sleep 20" }\n  - id: next\n    uses: shell.run\n    with: { command: "true" }\n') +
        `finally:\n  - id: f\n    uses: shell.run\n    with: { command: "touch ${marker}" }\n`,
      { signal: ctl.signal },
    );
    expect(report.status).toBe('interrupted');
    expect(report.exitCode).toBe(130);
    expect(report.interruptedStep).toBe('long');
    expect(report.steps.map((s) => s.status)).toEqual(['canceled', 'skipped', 'succeeded']);
    expect(existsSync(marker)).toBe(true);
  });

  it('resumes with --from-step, skipping the steps before it', async () => {
    const { report } = await runYaml(runbook('  - id: a\n    uses: shell.run\n    with: { command: "exit 1" }\n  - id: b\n    uses: shell.run\n    with: { command: "echo b" }\n'), {
      fromStep: 'b',
    });
    expect(report.steps.map((s) => s.status)).toEqual(['skipped', 'succeeded']);
    expect(report.exitCode).toBe(0);
  });

  it('--from-step takes the outputs of the skipped steps from the previous run', async () => {
    const yaml = runbook('  - id: a\n    uses: shell.run\n    with: { command: "echo from-the-first-run" }\n  - id: b\n    uses: shell.run\n    with: { command: "echo got ${steps.a.outputs.stdout}" }\n');
    const first = await runYaml(yaml);
    const { report } = await runYaml(yaml, { fromStep: 'b', resumeFrom: { runId: first.report.runId, steps: first.report.steps } });
    expect(report.steps.map((s) => s.status)).toEqual(['skipped', 'succeeded']);
    expect(report.steps[1]?.outputs.stdout).toBe('got from-the-first-run');
  });

  it('fails a step whose template cannot be resolved at run time, naming the reference', async () => {
    const { report } = await runYaml(runbook('  - id: a\n    uses: shell.run\n    with: { command: "echo ${env.DRCTL_TEST_UNSET_VAR}" }\n'), {
      env: {},
    });
    expect(report.steps[0]?.reason).toBe('${env.DRCTL_TEST_UNSET_VAR}: environment variable DRCTL_TEST_UNSET_VAR is not set');
  });
});
