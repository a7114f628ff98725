import { randomUUID } from 'node:crypto';

/** FAPI 2.0 Implementation Advice §2.2.1: the correlation header of one interaction. */
export const INTERACTION_ID_HEADER = 'x-fapi-interaction-id';

// RFC 9562 §4 string form (any version): 8-4-4-4-12 hex digits.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The interaction id a call is handled under, and what the caller sent. */
export interface InteractionId {
  /** A UUID: the caller's (lower-cased) when it sent a valid one, else a fresh one. */
  readonly value: string;
  /**
   * `valid`: echoed as received; `absent`: minted; `malformed`: the caller sent something
   * that is not one UUID (or several values) and it was replaced — log it.
   */
  readonly received: 'valid' | 'absent' | 'malformed';
}

/**
 * The interaction id of one call from the values of its `x-fapi-interaction-id` header
 * (HTTP header or gRPC metadata): the caller's UUID when it sent exactly one valid one, else
 * a fresh `crypto.randomUUID()`. Never returns caller bytes that are not a UUID, so the value
 * is always safe to put in a header or a log line.
 */
export function interactionIdOf(
  values: string | readonly string[] | undefined | null,
): InteractionId {
  if (values === undefined || values === null || (Array.isArray(values) && values.length === 0))
    return { value: randomUUID(), received: 'absent' };
  const list: readonly string[] = typeof values === 'string' ? [values] : values;
  const only = list.length === 1 ? list[0]!.trim() : undefined;
  if (only !== undefined && UUID.test(only))
    return { value: only.toLowerCase(), received: 'valid' };
  return { value: randomUUID(), received: 'malformed' };
}

/** What a log line says about a replaced id: its length only, never the caller's bytes. */
export function malformedInteractionIdFields(
  values: string | readonly string[] | undefined,
  replacement: string,
): Record<string, unknown> {
  const list = values === undefined ? [] : typeof values === 'string' ? [values] : values;
  return {
    interactionId: replacement,
    receivedValues: list.length,
    receivedLength: list.reduce((n, v) => n + v.length, 0),
  };
}

/**
 * `{ 'x-fapi-interaction-id': value }` for a response, when `headers` carry a valid id
 * (settled on the request by the transport), else `{}`.
 */
export function interactionIdHeaderOf(headers: {
  readonly [name: string]: string | string[] | undefined;
}): Record<string, string> {
  const id = interactionIdOf(headers[INTERACTION_ID_HEADER]);
  return id.received === 'valid' ? { [INTERACTION_ID_HEADER]: id.value } : {};
}
