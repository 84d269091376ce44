import type { Command } from '../command.js';

/** Every `herd` command, in the order `herd help` lists them. One file per command. */
export const commands: Command[] = [];
