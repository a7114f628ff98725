import type { IncomingHttpHeaders } from 'node:http';
import {
  INTERACTION_ID_HEADER,
  interactionIdOf,
  malformedInteractionIdFields,
} from '../observability/interaction-id.js';
import type { Logger } from '../observability/logger.js';

/** The parts of a response {@link adoptInteractionId} stamps (node:http, HTTP/2 compat). */
export interface InteractionIdResponse {
  readonly headersSent: boolean;
  setHeader(name: string, value: string): unknown;
}

/**
 * Settles the `x-fapi-interaction-id` of one inbound call (FAPI 2.0 Implementation Advice
 * §2.2.1): the caller's UUID, or a fresh one when it sent none or a malformed one (logged,
 * length only). The value replaces the request header, so the app, the access log and a
 * second call of this function all see the same id, and is set on `res` so every answer —
 * served, refused or failed — carries it. Idempotent.
 *
 * @returns the interaction id (a UUID)
 */
export function adoptInteractionId(
  req: { readonly headers: IncomingHttpHeaders },
  res: InteractionIdResponse | undefined,
  logger: Logger | undefined,
): string {
  const sent = req.headers[INTERACTION_ID_HEADER];
  const id = interactionIdOf(sent);
  if (id.received === 'malformed')
    logger?.warn(
      malformedInteractionIdFields(sent, id.value),
      'malformed x-fapi-interaction-id replaced with a fresh UUID',
    );
  req.headers[INTERACTION_ID_HEADER] = id.value;
  if (res !== undefined && !res.headersSent) res.setHeader(INTERACTION_ID_HEADER, id.value);
  return id.value;
}

/** The interaction id {@link adoptInteractionId} settled on `req`, if it ran. */
export function interactionIdOfRequest(req: {
  readonly headers: IncomingHttpHeaders;
}): string | undefined {
  const value = req.headers[INTERACTION_ID_HEADER];
  return typeof value === 'string' ? value : undefined;
}
