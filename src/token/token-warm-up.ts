import type { CertboundError } from '../errors.js';
import type { ReadinessStatus } from '../readiness-check.js';
import type { AccessToken, TokenRequest } from './access-token.js';
import { backoffDelay } from './backoff.js';
import { mapAsError } from './map-as-error.js';
import {
  describeTokenRequest,
  normalizeTokenRequest,
  type NormalizedTokenRequest,
} from './token-request-key.js';
import { isUsable, type SlotState } from './token-slot.js';

/** What the warm-up needs of its token client. */
export interface WarmUpClient {
  get(request: TokenRequest): Promise<AccessToken>;
  isClosed(): boolean;
  readonly minBackoffMs: number;
  readonly maxBackoffMs: number;
}

/** A request the client keeps a token ready for. */
interface WarmRequest {
  readonly request: TokenRequest;
  readonly normalized: NormalizedTokenRequest;
  obtained: boolean;
  /** Why the last attempt failed (also discovery, which no slot records). */
  lastError: CertboundError | undefined;
}

/**
 * The requests a token client obtains at start-up and reports readiness on: each is
 * retried with the client's backoff until it gets a token or the client closes.
 */
export class TokenWarmUp {
  readonly #client: WarmUpClient;
  readonly #requests = new Map<string, WarmRequest>();

  constructor(client: WarmUpClient) {
    this.#client = client;
  }

  /**
   * Obtains a token for each request (see `TokenClient.warmUp`).
   *
   * @returns true once every request got one; false when the client closed first
   * @throws TypeError at once (not in the promise) on a bad request
   */
  run(requests: readonly TokenRequest[]): Promise<boolean> {
    const entries = requests.map((request) => {
      const normalized = normalizeTokenRequest(request);
      let entry = this.#requests.get(normalized.key);
      if (entry === undefined) {
        entry = { request, normalized, obtained: false, lastError: undefined };
        this.#requests.set(normalized.key, entry);
      }
      return entry;
    });
    return Promise.all(entries.map((entry) => this.#runOne(entry))).then((done) =>
      done.every(Boolean),
    );
  }

  async #runOne(entry: WarmRequest): Promise<boolean> {
    const client = this.#client;
    for (let attempt = 1; !client.isClosed(); attempt++) {
      try {
        await client.get(entry.request);
        entry.obtained = true;
        entry.lastError = undefined;
        return true;
      } catch (err) {
        if (client.isClosed()) break;
        entry.lastError = mapAsError(err, 'token request');
        const delay = backoffDelay(attempt, client.minBackoffMs, client.maxBackoffMs);
        await new Promise((resolve) => setTimeout(resolve, delay).unref());
      }
    }
    return false;
  }

  /**
   * Not ok until every warmed-up request got a token, nor while one holds no valid token
   * for `thumbprint` and its last request failed (the reason carries the AS answer). A
   * token that lapsed unused is not a failure. Ok when nothing was warmed up.
   *
   * @param slotOf the cache slot of a request key, when there is one
   */
  ready(
    thumbprint: string,
    slotOf: (key: string) => SlotState | undefined,
    now: number,
  ): ReadinessStatus {
    for (const entry of this.#requests.values()) {
      const slot = slotOf(entry.normalized.key);
      if (isUsable(slot?.token, thumbprint, now)) continue;
      const error = entry.obtained ? slot?.lastError : (slot?.lastError ?? entry.lastError);
      if (!entry.obtained || error !== undefined) {
        return {
          ok: false,
          reason: `token for ${describeTokenRequest(entry.normalized)}: ${error?.message ?? 'not obtained yet.'}`,
        };
      }
    }
    return { ok: true };
  }
}
