import { Readable } from 'node:stream';
import {
  customFetch,
  isDPoPNonceError,
  protectedResourceRequest,
  type DPoPHandle,
} from 'oauth4webapi';
import type { Agent, Dispatcher } from 'undici';

/** Request bodies up to this size are held so a nonce retry can send them again. */
export const DPOP_REPLAY_BODY_BYTES = 1024 * 1024;

/** One request to a `proof: dpop` upstream. */
export interface DpopUpstreamRequest {
  /** The mTLS agent of the identity the token (and its DPoP key) belongs to. */
  readonly agent: Agent;
  /** The DPoP-bound access token. Never logged. */
  readonly accessToken: string;
  /** Signs the proofs with the key the token is bound to; keeps the servers' nonces. */
  readonly dpop: DPoPHandle;
  /** Absolute `https://` URL of the request (its origin + path are the proof's `htu`). */
  readonly url: URL;
  readonly method: string;
  /** Request headers to send (without `authorization` / `dpop`, which are set here). */
  readonly headers: Readonly<Record<string, string | readonly string[]>>;
  /** The request body, or null. */
  readonly body: Readable | null;
  readonly signal: AbortSignal;
  readonly timeoutMs: number;
}

/** What {@link bodyForReplay} made of a request body. */
interface ReplayableBody {
  /** A fresh body for each attempt. */
  next(): Buffer | Readable | null;
  /** False when the body was too large to hold: no second attempt. */
  readonly replayable: boolean;
}

async function bodyForReplay(body: Readable | null, limit: number): Promise<ReplayableBody> {
  if (body === null) return { next: () => null, replayable: true };
  const chunks: Buffer[] = [];
  let size = 0;
  const iterator = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  for (;;) {
    const step = await iterator.next();
    if (step.done === true) {
      const whole = Buffer.concat(chunks);
      return { next: () => whole, replayable: true };
    }
    chunks.push(step.value);
    size += step.value.length;
    if (size > limit) break;
  }
  // Too large to hold: what was read, then the rest as it comes; sent once.
  const rest = Readable.from(
    (async function* () {
      yield* chunks;
      for (let step = await iterator.next(); step.done !== true; step = await iterator.next())
        yield step.value;
    })(),
  );
  let used = false;
  return {
    next: () => {
      if (used) throw new Error('the request body was already sent');
      used = true;
      return rest;
    },
    replayable: false,
  };
}

function headersOf(record: DpopUpstreamRequest['headers']): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(record)) {
    if (typeof value === 'string') headers.append(name, value);
    else for (const v of value) headers.append(name, v);
  }
  return headers;
}

/** The headers oauth4webapi reads of an answer: the challenges and the nonce. */
function challengeHeadersOf(answer: Dispatcher.ResponseData): Headers {
  const out = new Headers();
  for (const name of ['www-authenticate', 'dpop-nonce']) {
    const value = answer.headers[name];
    if (typeof value === 'string') out.append(name, value);
    else if (Array.isArray(value)) for (const v of value) out.append(name, v);
  }
  return out;
}

/**
 * Sends one request to a DPoP upstream with oauth4webapi's `protectedResourceRequest`:
 * `Authorization: DPoP <token>` and a fresh proof (RFC 9449 §4.2: new `jti`, `htm`, `htu`,
 * `ath`, the upstream's last nonce) signed by the token's key, over the identity's mTLS
 * agent. When the upstream answers `use_dpop_nonce` (RFC 9449 §9) the request is sent once
 * more with a new proof carrying the nonce — if its body (at most
 * {@link DPOP_REPLAY_BODY_BYTES}) could be held. Any other answer, challenges included,
 * is returned as the upstream sent it.
 *
 * @throws what undici throws when the upstream cannot be reached; TypeError on a header
 *   value `Headers` refuses
 */
export async function sendDpopUpstreamRequest(
  request: DpopUpstreamRequest,
): Promise<Dispatcher.ResponseData> {
  const body = await bodyForReplay(request.body, DPOP_REPLAY_BODY_BYTES);
  for (let attempt = 0; ; attempt++) {
    let answer: Dispatcher.ResponseData | undefined;
    // oauth4webapi builds the proof and headers; the bytes go out over our undici agent, and
    // the streamed answer is relayed as is (no fetch decoding of content-encoding).
    const send = async (_url: string, init: { headers: Record<string, string> }) => {
      answer = await request.agent.request({
        origin: request.url.origin,
        method: request.method,
        path: request.url.pathname + request.url.search,
        headers: init.headers,
        body: body.next(),
        signal: request.signal,
        headersTimeout: request.timeoutMs,
        bodyTimeout: request.timeoutMs,
      });
      const status = answer.statusCode >= 200 && answer.statusCode <= 599 ? answer.statusCode : 200;
      return new Response(null, { status, headers: challengeHeadersOf(answer) });
    };
    try {
      await protectedResourceRequest(
        request.accessToken,
        request.method,
        request.url,
        headersOf(request.headers),
        null,
        { DPoP: request.dpop, signal: request.signal, [customFetch]: send },
      );
      return answer!;
    } catch (err) {
      if (answer === undefined) throw err;
      if (attempt === 0 && body.replayable && isDPoPNonceError(err)) {
        await answer.body.dump();
        continue;
      }
      return answer;
    }
  }
}
