import type { Logger } from 'pino';
import type { EngineEvent } from '../engine/events.js';
import { ProgressTicker } from './progress.js';
import type { Reporter } from './reporter.js';

// JSON lines on stderr (pino), for cron, CI and log shippers. Events arrive already redacted;
// pino's own redaction is a second net for anything shaped like a credential. Every adapter
// progress event is a debug line; a running step also logs one info line per interval, so a
// CI log at the default level shows a long restore moving.

export async function createJsonLogReporter(level: string, o: { progressIntervalMs?: number } = {}): Promise<Reporter> {
  const { pino } = await import('pino');
  const log: Logger = pino(
    {
      level,
      base: { app: 'drctl' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ['*.password', '*.token', '*.authToken', '*.apiKey', '*.secretAccessKey'], censor: '***' },
    },
    pino.destination({ fd: 2, sync: true }),
  );
  const ticker = new ProgressTicker(o.progressIntervalMs, ({ text, ...t }) =>
    log.info({ event: 'step.running', step: t.id, elapsedMs: Math.round(t.elapsedMs), bytes: t.bytes, total: t.total, bytesPerSecond: t.bytesPerSecond, etaMs: t.etaMs }, `step ${t.id} ${text}`),
  );
  return {
    onEvent(e: EngineEvent) {
      ticker.onEvent(e);
      switch (e.type) {
        case 'run.start':
          log.info({ event: e.type, runId: e.runId, runbook: e.runbook, file: e.file, rtoMs: e.rtoMs }, `run ${e.runbook} started`);
          return;
        case 'step.start':
          log.info({ event: e.type, step: e.id, uses: e.uses, attempt: e.attempt, description: e.description }, `step ${e.id} started`);
          return;
        case 'step.retry':
          log.warn({ event: e.type, step: e.id, attempt: e.attempt, error: e.error, waitMs: e.waitMs }, `step ${e.id} try ${e.attempt} failed`);
          return;
        case 'step.progress':
          log.debug({ event: e.type, step: e.id, ...e.progress, elapsedMs: e.elapsedMs }, 'progress');
          return;
        case 'step.log':
          log.info({ event: e.type, step: e.id }, e.message);
          return;
        case 'step.end': {
          const r = e.result;
          const fields = { event: e.type, step: r.id, uses: r.uses, status: r.status, durationMs: r.durationMs, attempts: r.attempts, timedOut: r.timedOut, overBudget: r.overBudget, budgetMs: r.budgetMs, reason: r.reason };
          if (r.status === 'failed') log.error(fields, `step ${r.id} failed: ${e.error ?? r.reason ?? ''}`);
          else log.info(fields, `step ${r.id} ${r.status}`);
          return;
        }
        case 'run.end': {
          const r = e.report;
          log.info(
            { event: e.type, runId: r.runId, runbook: r.runbook, status: r.status, durationMs: r.durationMs, exitCode: r.exitCode, verdicts: r.verdicts },
            `run ${r.runbook} ${r.status}`,
          );
        }
      }
    },
    async close() {
      ticker.close();
      log.flush();
    },
  };
}
