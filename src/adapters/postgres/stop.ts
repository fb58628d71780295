import { z } from 'zod';
import { defineAction } from '../types.js';
import { stopCluster } from './cluster.js';

// postgres.stop: stop a cluster drctl started (a scratch restore), as its owner, in the mode asked
// for: smart waits for clients to disconnect, fast disconnects them, immediate aborts.
export const postgresStop = defineAction({
  name: 'postgres.stop',
  summary: 'Stop the PostgreSQL server running on a data directory',
  input: z.strictObject({ dataDir: z.string().min(1), mode: z.enum(['smart', 'fast', 'immediate']).default('fast') }),
  outputs: ['stopped'],
  describe: (i) => `stop the server on ${i.dataDir} (${i.mode})`,
  async run(ctx, i) {
    const stopped = await stopCluster(ctx, i.dataDir, i.mode);
    ctx.log(stopped ? `stopped the server on ${i.dataDir}` : `no server running on ${i.dataDir}`);
    return { stopped };
  },
});
