import { z } from 'zod';

/**
 * `profile`: a named set of rules the whole configuration must meet. `fapi2` is the FAPI 2.0
 * Security Profile for a resource server and its client (see docs/fapi2.md); a configuration
 * that violates it is refused at start and listed by `certbound config check`.
 */
export const profileSchema = z.enum(['fapi2']);

/** A configuration profile name. */
export type ProfileName = z.output<typeof profileSchema>;
