import { describe, expect, it } from 'vitest';
import type { StepResult } from '../../src/engine/step-result.js';
import { DEFAULT_PROGRESS_INTERVAL_MS, ProgressTicker, progressInterval, type ProgressTick } from '../../src/report/progress.js';

// The progress line a long step logs off a TTY: bytes, rate and an estimate where the adapter
// reports them. The interval is tiny here; the test waits for the tick itself, not for time.

describe('ProgressTicker', () => {
  it('ticks for a running step with bytes, rate and ETA, and stops when it ends', async () => {
    const ticks: ProgressTick[] = [];
    let resolveTick!: () => void;
    const ticked = new Promise<void>((r) => (resolveTick = r));
    const ticker = new ProgressTicker(5, (t) => {
      ticks.push(t);
      resolveTick();
    });
    ticker.onEvent({ type: 'step.start', id: 'restore', uses: 'postgres.restore', description: 'restore', attempt: 1 });
    ticker.onEvent({ type: 'step.progress', id: 'restore', progress: { bytes: 2_000_000, total: 10_000_000 }, elapsedMs: 1 });
    await ticked;
    const t = ticks[0]!;
    expect(t).toMatchObject({ id: 'restore', bytes: 2_000_000, total: 10_000_000 });
    expect(t.bytesPerSecond).toBeGreaterThan(0);
    expect(t.etaMs).toBeGreaterThan(0);
    expect(t.text).toMatch(/^running \S+: 2\.0 MB of 10\.0 MB at \S+ \S+\/s, ~\S+ left$/);
    ticker.onEvent({ type: 'step.end', result: { id: 'restore' } as StepResult });
    const n = ticks.length;
    await new Promise((r) => setTimeout(r, 30));
    expect(ticks.length).toBe(n);
  });

  it('without bytes, the line still says how long the step has been running', async () => {
    const got = await new Promise<ProgressTick>((resolve) => {
      const ticker = new ProgressTicker(5, (t) => {
        ticker.close();
        resolve(t);
      });
      ticker.onEvent({ type: 'step.start', id: 'wait', uses: 'shell.run', description: 'sleep', attempt: 1 });
    });
    expect(got.text).toMatch(/^running \S+$/);
    expect(got.bytes).toBeUndefined();
  });

  it('DRCTL_PROGRESS_INTERVAL: a duration or seconds; 0 turns it off; default 10s; nonsense refused', () => {
    expect(progressInterval({})).toBe(DEFAULT_PROGRESS_INTERVAL_MS);
    expect(DEFAULT_PROGRESS_INTERVAL_MS).toBe(10_000);
    expect(progressInterval({ DRCTL_PROGRESS_INTERVAL: '30s' })).toBe(30_000);
    expect(progressInterval({ DRCTL_PROGRESS_INTERVAL: '5' })).toBe(5_000);
    expect(progressInterval({ DRCTL_PROGRESS_INTERVAL: '0' })).toBe(0);
    expect(() => progressInterval({ DRCTL_PROGRESS_INTERVAL: 'often' })).toThrow('DRCTL_PROGRESS_INTERVAL=often: expected a duration');
  });
});
