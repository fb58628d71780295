import { setTimeout as sleep } from 'node:timers/promises';
import type { Outputs } from '../adapters/types.js';

// One attempt of an action, under its own timeout inside the run's signal. The innermost
// executor: retries, batches and run state are built around it.

const TIMEOUT = Symbol('timeout');
const SETTLE_GRACE_MS = 5000;

export type AttemptResult = { ok: true; outputs: Outputs } | { ok: false; error: unknown; timedOut: boolean };

/** Runs `work` with a signal that aborts on the run's signal or after timeoutMs. Never throws. */
export async function attempt(work: (signal: AbortSignal) => Promise<Outputs>, timeoutMs: number | undefined, runSignal: AbortSignal): Promise<AttemptResult> {
  const timeoutCtl = new AbortController();
  const timer = timeoutMs === undefined ? undefined : setTimeout(() => timeoutCtl.abort(TIMEOUT), timeoutMs);
  const signal = AbortSignal.any([runSignal, timeoutCtl.signal]);
  try {
    return { ok: true, outputs: await settleOrAbort(work(signal), signal) };
  } catch (error) {
    return { ok: false, error, timedOut: timeoutCtl.signal.aborted };
  } finally {
    clearTimeout(timer);
  }
}

// An action that ignores its signal must not hang the run: on abort we give it a grace period
// to stop its children, then move on.
async function settleOrAbort<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  work.catch(() => {});
  if (signal.aborted) throw signal.reason;
  let onAbort!: () => void;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      const grace = sleep(SETTLE_GRACE_MS).then(() => undefined);
      void Promise.race([work.then(() => undefined, () => undefined), grace]).then(() => reject(signal.reason));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
  // A result that arrives after the abort does not count: the step timed out.
  const settled = work.then((v) => {
    if (signal.aborted) throw signal.reason;
    return v;
  });
  try {
    return await Promise.race([settled, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
