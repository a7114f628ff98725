import type { IncomingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { requestHasBody } from '../../src/http/request-has-body.js';

/** The one "does this request have a body" rule, for HTTP/1.1 and HTTP/2. */
describe('requestHasBody', () => {
  it.each([
    ['GET without framing headers', {}, false],
    ['content-length: 0', { 'content-length': '0' }, false],
    ['content-length: 00 (still zero)', { 'content-length': '00' }, false],
    ['content-length: 12', { 'content-length': '12' }, true],
    ['transfer-encoding: chunked', { 'transfer-encoding': 'chunked' }, true],
    [
      'transfer-encoding with content-length: 0',
      { 'transfer-encoding': 'chunked', 'content-length': '0' },
      true,
    ],
  ] as Array<[string, IncomingHttpHeaders, boolean]>)(
    'HTTP/1.1: %s → %s',
    (_name, headers, body) => {
      expect(requestHasBody({ headers })).toBe(body);
    },
  );

  it.each([
    ['END_STREAM on HEADERS', true, { 'content-length': '12' }, false],
    ['DATA frames follow, no content-length', false, {}, true],
    ['DATA frames follow, content-length: 0', false, { 'content-length': '0' }, true],
  ] as Array<[string, boolean, IncomingHttpHeaders, boolean]>)(
    'HTTP/2: %s → body %s',
    (_name, endAfterHeaders, headers, body) => {
      expect(requestHasBody({ headers, stream: { endAfterHeaders } })).toBe(body);
    },
  );
});
