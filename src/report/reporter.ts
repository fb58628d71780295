import type { EngineEvent } from '../engine/events.js';

// A reporter consumes engine events; `close` flushes whatever it buffered.
export interface Reporter {
  onEvent(event: EngineEvent): void;
  close(): Promise<void>;
}
