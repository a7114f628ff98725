import { z } from 'zod';
import { parseDuration } from '../duration.js';

/** A duration written as `500ms`, `30s`, `5m`, `24h` (or a number of milliseconds). */
export const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  try {
    return parseDuration(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'is not a duration' });
    return z.NEVER;
  }
});
