import { describe, expect, it } from 'vitest';
import { syncfsWorks } from '../../src/adapters/postgres/recovery-watch.js';

describe('a restored directory is synced with syncfs only where syncfs reports write errors', () => {
  it('Linux 5.8 and later', () => {
    expect(syncfsWorks('5.8.0-63-generic', 'linux')).toBe(true);
    expect(syncfsWorks('6.1.0-18-amd64', 'linux')).toBe(true);
    expect(syncfsWorks('10.0.1', 'linux')).toBe(true);
  });
  it('not older kernels, unknown versions, nor other systems', () => {
    expect(syncfsWorks('5.7.19', 'linux')).toBe(false);
    expect(syncfsWorks('4.19.0-26-amd64', 'linux')).toBe(false);
    expect(syncfsWorks('weird', 'linux')).toBe(false);
    expect(syncfsWorks('23.1.0', 'darwin')).toBe(false);
  });
});
