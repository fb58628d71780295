import type { Command } from 'commander';
import type { Action } from '../program.js';
import { executeRunbook } from '../execute.js';
import { builtInRunbook } from '../context.js';

// drctl rollback --to-version <v>: runs runbooks/rollback.yaml (what a rollback.sh script does):
// record the running version, deploy the target, gate on health, revert automatically when
// the gate fails, notify. --dry-run prints what would happen.
export function registerRollback(program: Command, act: Action): void {
  program
    .command('rollback')
    .requiredOption('--to-version <v>', 'the version to roll back to')
    .option('--deploy-command <cmd>', 'deploys $VERSION (default: DRCTL_DEPLOY_COMMAND)')
    .option('--version-url <url>', 'returns the running version as JSON {"version": ...} (default: DRCTL_VERSION_URL)')
    .option('--health-url <url>', 'health gate (default: HEALTH_URL)')
    .option('--runbook <file>', 'run this runbook instead of the built-in rollback')
    .action(
      act(async (ctx, o: { toVersion: string; deployCommand?: string; versionUrl?: string; healthUrl?: string; runbook?: string }) => {
        return (
          await executeRunbook(ctx, builtInRunbook(ctx, 'rollback', o.runbook), {
            inputs: { toVersion: o.toVersion, deployCommand: o.deployCommand, versionUrl: o.versionUrl, healthUrl: o.healthUrl },
          })
        ).exitCode;
      }),
    );
}
