import { Transform, type TransformCallback } from 'node:stream';
import type { ActionContext } from './types.js';

/** A pass-through stage that reports bytes moved as step progress (live line, JSON logs). */
export function progressMeter(ctx: ActionContext, total?: number): Transform {
  let moved = 0;
  return new Transform({
    transform(chunk: Buffer, _e, cb: TransformCallback) {
      moved += chunk.length;
      ctx.progress({ bytes: moved, total });
      cb(null, chunk);
    },
  });
}
