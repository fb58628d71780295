import { describe, expect, it } from 'vitest';
import { requestedCommand } from '../../src/cli/main.js';

// Only the command being run is loaded; finding it must skip global options and their values.
describe('requestedCommand', () => {
  it('finds the command behind global options, their values and help', () => {
    expect(requestedCommand(['run', 'x.yaml'])).toBe('run');
    expect(requestedCommand(['--config', 'run', 'backup', '--repo', 'x'])).toBe('backup');
    expect(requestedCommand(['--log-format', 'json', '--yes', '--report', 'a.xml', 'restore'])).toBe('restore');
    expect(requestedCommand(['--report=a.json', 'drill', 'x'])).toBe('drill');
    expect(requestedCommand(['help', 'verify-backups'])).toBe('verify-backups');
    expect(requestedCommand(['--help'])).toBeUndefined();
    expect(requestedCommand([])).toBeUndefined();
  });
});
