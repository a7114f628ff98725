import { DPoP, generateKeyPair, type Client, type DPoPHandle } from 'oauth4webapi';
import type { WorkloadIdentity } from '../identity/workload-identity.js';

/** The DPoP key of one workload identity, as the token client and the outbound proxy use it. */
export interface DpopKey {
  /** oauth4webapi's proof signer and nonce cache for this key. */
  readonly handle: DPoPHandle;
  /** RFC 7638 thumbprint of the public key: the `cnf.jkt` of tokens bound to it (RFC 9449 §6). */
  readonly jkt: string;
}

/** The JWS algorithm of the keys (FAPI 2.0 §5.4.1 allows it; RFC 9449 §4.2 asymmetric). */
export const DPOP_KEY_ALGORITHM = 'ES256';

/**
 * One DPoP key per workload certificate (by thumbprint), generated in memory with a
 * non-extractable private key — never written anywhere — and replaced when the certificate
 * rotates: a new certificate gets a new key, the previous one is kept only for connections
 * still pinned to the previous certificate. Concurrent first uses share one generation.
 */
export class DpopKeys {
  readonly #client: Client;
  readonly #keys = new Map<string, Promise<DpopKey>>();

  /** `client` supplies oauth4webapi's clock skew for the proofs' `iat`. */
  constructor(client: Client) {
    this.#client = client;
  }

  /** The key of `identity`'s certificate (generated on first use). */
  for(identity: WorkloadIdentity): Promise<DpopKey> {
    const known = this.#keys.get(identity.thumbprint);
    if (known !== undefined) return known;
    const created = this.#generate();
    // Current and previous certificate only: a rotation retires the key before last.
    if (this.#keys.size >= 2) this.#keys.delete(this.#keys.keys().next().value as string);
    this.#keys.set(identity.thumbprint, created);
    created.catch(() => this.#keys.delete(identity.thumbprint));
    return created;
  }

  /** Forgets every key. */
  clear(): void {
    this.#keys.clear();
  }

  async #generate(): Promise<DpopKey> {
    // Private key non-extractable (oauth4webapi's default); the public one goes in each proof.
    const pair = await generateKeyPair(DPOP_KEY_ALGORITHM);
    const handle = DPoP(this.#client, pair);
    return { handle, jkt: await handle.calculateThumbprint() };
  }
}
