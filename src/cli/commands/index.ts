import type { Command } from '../command.js';
import { certsInit, certsIssue } from './certs.js';

/** Every sub-command of the `certbound` CLI. */
export const COMMANDS: readonly Command[] = [certsInit, certsIssue];
