import type { Command } from '../command.js';
import { initCommand } from './init.js';
import { validateCommand } from './validate.js';
import { reportCommand } from './report.js';
import { schemaCommand } from './schema.js';
import { coordinatorCommand } from './coordinator.js';
import { tokenCommand } from './token.js';
import { statusCommand } from './status.js';
import { upCommand } from './up.js';
import { planCommand } from './plan.js';
import { downCommand } from './down.js';
import { kubeconfigCommand } from './kubeconfig.js';

/** Every `herd` command, in the order `herd help` lists them. One file per command. */
export const commands: Command[] = [
  initCommand,
  validateCommand,
  reportCommand,
  schemaCommand,
  planCommand,
  upCommand,
  downCommand,
  coordinatorCommand,
  tokenCommand,
  statusCommand,
  kubeconfigCommand,
];
