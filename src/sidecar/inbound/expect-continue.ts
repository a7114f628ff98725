import type { AnyRequest } from '../../http/connection-peer.js';

/** A response that can send `100 Continue` (node:http and the HTTP/2 compatibility API). */
interface ContinueResponse {
  writeContinue(): void;
}

// Requests whose `Expect: 100-continue` is held back until they are verified.
const deferred = new WeakSet<object>();

/**
 * Marks `req` (`Expect: 100-continue`) as waiting for its `100 Continue`: the server's
 * `checkContinue` handler calls this instead of letting node answer 100 at once, so a
 * client that will be refused is never invited to upload its body (RFC 9110 §10.1.1).
 */
export function deferContinue(req: AnyRequest): void {
  deferred.add(req);
}

/** Sends the held-back `100 Continue` of `req`, once, if there is one. */
export function sendDeferredContinue(req: AnyRequest, res: ContinueResponse): void {
  if (deferred.delete(req)) res.writeContinue();
}
