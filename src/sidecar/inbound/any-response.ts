import type { ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';

/** Any response object the inbound listener hands out (HTTP/1.1 or HTTP/2 compatibility API). */
export type AnyResponse = ServerResponse | Http2ServerResponse;
