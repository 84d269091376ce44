import type { Command } from '../command.js';
import { initCommand } from './init.js';
import { validateCommand } from './validate.js';
import { schemaCommand } from './schema.js';

/** Every `herd` command, in the order `herd help` lists them. One file per command. */
export const commands: Command[] = [
  initCommand,
  validateCommand,
  schemaCommand,
];
