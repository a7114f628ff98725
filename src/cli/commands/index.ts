import type { Command } from '../command.js';
import { certsInit, certsIssue } from './certs.js';
import { certsRetireCa, certsRotate, certsRotateCa, certsStatus } from './certs-rotation.js';
import { configCheck } from './config-check.js';
import { run } from './run.js';
import { token } from './token.js';
import { verify } from './verify.js';

/** Every sub-command of the `certbound` CLI. */
export const COMMANDS: readonly Command[] = [
  certsInit,
  certsIssue,
  certsRotate,
  certsRotateCa,
  certsRetireCa,
  certsStatus,
  run,
  configCheck,
  token,
  verify,
];
