import type { Progress } from '../adapters/types.js';
import type { RunReport, StepResult } from './step-result.js';

// What the engine tells the reporters while it runs.

export type EngineEvent =
  | { type: 'run.start'; runId: string; runbook: string; file: string; startedAt: string; rtoMs?: number; steps: { id: string; uses: string }[] }
  | { type: 'step.start'; id: string; uses: string; description: string; attempt: number; budgetMs?: number; timeoutMs?: number }
  | { type: 'step.retry'; id: string; attempt: number; error: string; waitMs: number }
  | { type: 'step.progress'; id: string; progress: Progress; elapsedMs: number }
  | { type: 'step.log'; id: string; message: string }
  | { type: 'step.end'; result: StepResult; error?: string }
  | { type: 'run.end'; report: RunReport };

export type Emit = (event: EngineEvent) => void;
