import { calculateJwkThumbprint, EmbeddedJWK, type JWK, type JWSHeaderParameters } from 'jose';

/** A proof's public key, imported by jose, and its RFC 7638 thumbprint. */
export interface ProofKey {
  readonly key: CryptoKey;
  readonly jkt: string;
}

/**
 * The imported `jwk` of DPoP proofs by (alg, jwk as sent), bounded LRU: a client signs
 * every request with the same key, so jose's `EmbeddedJWK` import (its public-key and
 * `use`/`alg` checks included) and `calculateJwkThumbprint` run once per client key, not
 * per request; the signature is still verified on every proof. A failed import is not kept.
 */
export class ProofKeyCache {
  readonly #entries = new Map<string, Promise<ProofKey>>();
  readonly #max: number;

  constructor(max = 1000) {
    this.#max = max;
  }

  /** @throws what `EmbeddedJWK` throws (not a public key, unusable with alg) */
  keyOf(header: JWSHeaderParameters & { jwk: JWK }): Promise<ProofKey> {
    const id = `${header.alg ?? ''} ${JSON.stringify(header.jwk)}`;
    const hit = this.#entries.get(id);
    if (hit !== undefined) {
      this.#entries.delete(id);
      this.#entries.set(id, hit);
      return hit;
    }
    const made = (async (): Promise<ProofKey> => {
      const key = await EmbeddedJWK(header, { payload: '', signature: '' });
      return { key, jkt: await calculateJwkThumbprint(header.jwk, 'sha256') };
    })();
    made.catch(() => this.#entries.delete(id));
    this.#entries.set(id, made);
    if (this.#entries.size > this.#max)
      this.#entries.delete(this.#entries.keys().next().value as string);
    return made;
  }
}
