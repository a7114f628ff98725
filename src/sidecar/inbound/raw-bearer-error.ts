import type { BearerErrorResponse } from '../../http/bearer-error-response.js';
import { http1HeadOf } from './resume-http1.js';

/**
 * The bytes of a {@link BearerErrorResponse} written straight to an HTTP/1.1 socket (no
 * `ServerResponse` exists: a refused upgrade, a parser error, a timed-out request), with
 * `connection: close`. Does not validate `response`: its headers come from the error table.
 */
export function rawBearerErrorOf(response: BearerErrorResponse): string {
  const head = http1HeadOf(`HTTP/1.1 ${response.status} ${response.code}`, {
    ...response.headers,
    connection: 'close',
  });
  return head + response.body;
}
