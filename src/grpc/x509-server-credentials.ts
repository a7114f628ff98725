import { ServerCredentials } from '@grpc/grpc-js';
import type { SecureContextOptions } from 'node:tls';
import { tlsOptionsOf, type TlsContextSettings } from '../tls/follow-secure-context.js';
import type { WorkloadIdentity } from '../identity/workload-identity.js';
import type { X509Source } from '../identity/x509-source.js';

function contextOf(
  source: X509Source,
  settings: TlsContextSettings,
): SecureContextOptions | undefined {
  try {
    return tlsOptionsOf(source.current(), settings);
  } catch {
    // A closed source: no context, so grpc-js drops every connection (fail closed).
    return undefined;
  }
}

/**
 * grpc-js server credentials that follow an {@link X509Source} with certbound's whole TLS
 * context ({@link tlsOptionsOf}: min version, RFC 9325 suites, groups). grpc-js's own
 * certificate-provider credentials hand `setSecureContext` only ca/cert/key, which rebuilds
 * the context with node's default suites (CBC and static RSA included) on every update.
 *
 * Requires and verifies a client certificate against the current bundle. Subscribes to the
 * source while a server uses the credentials (grpc-js watchers), not before.
 */
export class X509ServerCredentials extends ServerCredentials {
  readonly #source: X509Source;
  readonly #settings: TlsContextSettings;
  #applied: WorkloadIdentity | undefined;
  #unsubscribe: (() => void) | undefined;

  constructor(source: X509Source, settings: TlsContextSettings = {}) {
    super({ requestCert: true, rejectUnauthorized: true }, contextOf(source, settings));
    this.#source = source;
    this.#settings = settings;
  }

  override _addWatcher(watcher: Parameters<ServerCredentials['_addWatcher']>[0]): void {
    super._addWatcher(watcher);
    if (this.#unsubscribe !== undefined) return;
    try {
      this.#applied = this.#source.current();
    } catch {
      this.#applied = undefined;
    }
    this.#unsubscribe = this.#source.onUpdate((identity) => this.#apply(identity));
  }

  override _removeWatcher(watcher: Parameters<ServerCredentials['_removeWatcher']>[0]): void {
    super._removeWatcher(watcher);
    if (this.getWatcherCount() > 0) return;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  override _equals(other: ServerCredentials): boolean {
    return other === this;
  }

  #apply(identity: WorkloadIdentity): void {
    // The source replays the identity the server was created with: no rebuild for it.
    if (identity === this.#applied) return;
    this.#applied = identity;
    // setSecureContext rebuilds the whole context: pass every option again.
    this.updateSecureContextOptions(tlsOptionsOf(identity, this.#settings));
  }
}
