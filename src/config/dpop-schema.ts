import { z } from 'zod';
import { DPOP_DEFAULT_ALGORITHMS, DPOP_DEFAULTS } from '../verify/dpop/dpop-options.js';
import { DPOP_FORBIDDEN_ALGORITHM } from '../verify/dpop/dpop-options.js';
import { duration } from './duration-schema.js';

const nonEmpty = z.string().min(1);

const memoryStoreSchema = z.strictObject({
  memory: z.strictObject({
    maxEntries: z.number().int().min(1).default(DPOP_DEFAULTS.memoryMaxEntries),
  }),
});

const redisStoreSchema = z.strictObject({
  redis: z.strictObject({
    url: z.string().regex(/^rediss?:\/\/[^\s]+$/i, 'must be a redis:// or rediss:// URL'),
    keyPrefix: nonEmpty.default('certbound:dpop:'),
    timeout: duration.default(250),
    failOpen: z.boolean().default(false),
  }),
});

/**
 * `verify.dpop`: DPoP proofs (RFC 9449) on routes whose `proof` is `dpop`, `any` or `both`.
 * Defaults come from `DPOP_DEFAULTS` (one place).
 */
export const dpopSchema = z.strictObject({
  algorithms: z
    .array(
      z
        .string()
        .refine(
          (alg) => !DPOP_FORBIDDEN_ALGORITHM.test(alg),
          'none and HS* can never sign a DPoP proof',
        )
        .refine(
          (alg) => (DPOP_DEFAULT_ALGORITHMS as readonly string[]).includes(alg),
          `must be one of ${DPOP_DEFAULT_ALGORITHMS.join(', ')}`,
        ),
    )
    .min(1)
    .default([...DPOP_DEFAULT_ALGORITHMS]),
  iatWindow: duration
    .refine((ms) => ms >= 1000, 'must be at least 1s')
    .default(DPOP_DEFAULTS.iatWindowMs),
  maxProofBytes: z.number().int().min(512).default(DPOP_DEFAULTS.maxProofBytes),
  nonce: z
    .strictObject({
      keyFile: nonEmpty.optional(),
      step: duration
        .refine((ms) => ms >= 1000, 'must be at least 1s')
        .default(DPOP_DEFAULTS.nonceStepMs),
    })
    .optional(),
  replayStore: z
    .union([memoryStoreSchema, redisStoreSchema])
    .default({ memory: { maxEntries: DPOP_DEFAULTS.memoryMaxEntries } }),
});

/** `verify.dpop` after validation. */
export type DpopConfig = z.output<typeof dpopSchema>;
