import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { mapLimit } from '../../src/map-limit.js';

describe('mapLimit', () => {
  it('keeps the items’ order and never has more than the limit in flight', async () => {
    let inFlight = 0;
    let most = 0;
    const items = Array.from({ length: 40 }, (_, i) => i);
    const out = await mapLimit(items, 6, async (i) => {
      inFlight++;
      most = Math.max(most, inFlight);
      // Later items finish first: order must come from the index, not from completion.
      await sleep(40 - i);
      inFlight--;
      return i * 2;
    });
    expect(out).toEqual(items.map((i) => i * 2));
    expect(most).toBe(6);
  });

  it('rejects with the first error and starts nothing after it', async () => {
    const started: number[] = [];
    const run = mapLimit(Array.from({ length: 20 }, (_, i) => i), 3, async (i) => {
      started.push(i);
      await sleep(5);
      if (i === 4) throw new Error('item 4 failed');
      return i;
    });
    await expect(run).rejects.toThrow('item 4 failed');
    await sleep(50);
    expect(Math.max(...started)).toBeLessThan(8);
  });

  it('handles no items and a limit larger than the list', async () => {
    expect(await mapLimit([], 16, async (x: number) => x)).toEqual([]);
    expect(await mapLimit([1, 2], 16, async (x) => x + 1)).toEqual([2, 3]);
  });
});
