import type { Logger } from 'pino';
import { CertboundError, isCertboundError } from '../errors.js';
import { writeFileAtomic } from './atomic-write.js';
import { checkIdentity } from './check-identity.js';
import { createCsr } from './create-csr.js';
import type { CsrSigner, SignedCertificate } from './csr-signer.js';
import { FailureLog, identityLogger } from './identity-logger.js';
import type { KeyType } from './key-pair.js';
import type { WorkloadIdentity } from './workload-identity.js';
import { SELF_RENEWING_DEFAULTS } from './self-renewing-defaults.js';
import { X509SourceBase } from './x509-source-base.js';

export { SELF_RENEWING_DEFAULTS } from './self-renewing-defaults.js';

/** Options of {@link SelfRenewingX509Source.create}. */
export interface SelfRenewingX509SourceOptions {
  /**
   * Signs each new CSR: `devCaSigner(...)` for the development CA, or a client of a real CA.
   * Called on every renewal, so a signer that re-reads its CA follows a CA rotation.
   */
  sign: CsrSigner;
  /** Workload name (CN and DNS SAN). */
  name: string;
  /** SPIFFE ID written as the URI SAN. */
  spiffeId?: string;
  /** Lifetime of each certificate. Default 24 h. */
  ttlMs?: number;
  /** Renew at this fraction of the lifetime (linkerd2-proxy uses 70 %). Default 0.7. */
  renewAtFraction?: number;
  /** ± fraction of the renewal delay added at random so a fleet does not renew in step. Default 0.1. */
  jitter?: number;
  /** First retry delay after a failed renewal. Default 1000 ms. */
  minBackoffMs?: number;
  /** Longest retry delay. Default 60 000 ms. */
  maxBackoffMs?: number;
  /** Also write each certificate, key (0600) and bundle there, atomically. */
  writeTo?: { certPath: string; keyPath: string; bundlePath: string };
  /** Key algorithm. Default P-256. */
  keyType?: KeyType;
  /** Also require (and the dev CA always sets) the serverAuth EKU. Default false. */
  requireServerAuth?: boolean;
  /** Parent logger; the source logs through its `identity` child. */
  logger?: Logger;
}

/**
 * An {@link X509Source} that renews its own certificate through a {@link CsrSigner} — the
 * dev CA for the demo, or a real CA for users without cert-manager. At `renewAtFraction` of
 * the lifetime (jittered) it makes a new key and CSR, has it signed, checks the result, optionally writes the files
 * atomically, and publishes. A failed renewal keeps the current certificate, reports
 * ERR_RENEWAL_FAILED through `onError` and the log, and retries with exponential backoff.
 */
export class SelfRenewingX509Source extends X509SourceBase {
  readonly #options: SelfRenewingX509SourceOptions;
  readonly #logger: Logger;
  readonly #failures: FailureLog;
  #timer: NodeJS.Timeout | undefined;
  #failedAttempts = 0;
  #renewing: Promise<void> | undefined;

  private constructor(options: SelfRenewingX509SourceOptions, logger: Logger) {
    super();
    this.#options = options;
    this.#logger = logger;
    this.#failures = new FailureLog(logger);
  }

  /**
   * Issues the first certificate and schedules its renewal.
   *
   * @throws CertboundError ERR_RENEWAL_FAILED (with the cause) when the first issue fails
   * @throws TypeError on bad options
   */
  static async create(options: SelfRenewingX509SourceOptions): Promise<SelfRenewingX509Source> {
    const fraction = options.renewAtFraction ?? SELF_RENEWING_DEFAULTS.renewAtFraction;
    if (!(fraction > 0 && fraction < 1)) throw new TypeError('renewAtFraction must be in (0, 1)');
    if (options.ttlMs !== undefined && !(options.ttlMs >= 1000))
      throw new TypeError('ttlMs must be >= 1000');
    const jitter = options.jitter ?? SELF_RENEWING_DEFAULTS.jitter;
    if (!(jitter >= 0 && jitter < 1)) throw new TypeError('jitter must be in [0, 1)');
    const source = new SelfRenewingX509Source(options, identityLogger(options.logger));
    const identity = await source.#issue();
    source.publish(identity);
    source.#logger.info(
      { thumbprint: identity.thumbprint, spiffeId: identity.spiffeId, notAfter: identity.notAfter },
      'identity issued',
    );
    source.#schedule(source.#renewalDelay(identity));
    return source;
  }

  /** Renews now (outside the schedule). Resolves when done; a failure goes to `onError`. */
  async renewNow(): Promise<void> {
    if (this.closed) throw new CertboundError('ERR_SOURCE_CLOSED');
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#renew();
  }

  override async close(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await super.close();
    await this.#renewing?.catch(() => undefined);
  }

  #renewalDelay(identity: WorkloadIdentity): number {
    const lifetime = identity.notAfter.getTime() - identity.notBefore.getTime();
    const jitter = this.#options.jitter ?? SELF_RENEWING_DEFAULTS.jitter;
    const factor = 1 + jitter * (2 * Math.random() - 1);
    const at =
      identity.notBefore.getTime() +
      lifetime * (this.#options.renewAtFraction ?? SELF_RENEWING_DEFAULTS.renewAtFraction) * factor;
    // Never later than just before expiry, never in the past.
    return Math.max(0, Math.min(at, identity.notAfter.getTime() - 100) - Date.now());
  }

  #schedule(delayMs: number): void {
    if (this.closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#renew();
    }, delayMs);
    this.#timer.unref();
  }

  #renew(): Promise<void> {
    this.#renewing ??= this.#renewOnce().finally(() => {
      this.#renewing = undefined;
    });
    return this.#renewing;
  }

  async #renewOnce(): Promise<void> {
    let identity: WorkloadIdentity;
    try {
      identity = await this.#issue();
    } catch (err) {
      if (this.closed) return;
      const error =
        isCertboundError(err) && err.code === 'ERR_RENEWAL_FAILED'
          ? err
          : new CertboundError(
              'ERR_RENEWAL_FAILED',
              `renewal of ${this.#options.name} failed, keeping the current certificate: ${isCertboundError(err) ? err.code : err instanceof Error ? err.message : 'unknown error'}`,
              { cause: err, details: { name: this.#options.name } },
            );
      this.#failedAttempts++;
      const min = this.#options.minBackoffMs ?? SELF_RENEWING_DEFAULTS.minBackoffMs;
      const max = this.#options.maxBackoffMs ?? SELF_RENEWING_DEFAULTS.maxBackoffMs;
      const backoff =
        Math.min(max, min * 2 ** (this.#failedAttempts - 1)) * (0.8 + 0.4 * Math.random());
      this.#failures.failure(
        error.message,
        {
          code: error.code,
          name: this.#options.name,
          attempt: this.#failedAttempts,
          retryInMs: Math.round(backoff),
        },
        error.message,
      );
      this.reject(error);
      this.#schedule(backoff);
      return;
    }
    if (this.closed) return;
    this.#failedAttempts = 0;
    this.#failures.reset();
    const previous = this.current().thumbprint;
    this.publish(identity);
    this.#logger.info(
      {
        thumbprint: identity.thumbprint,
        previousThumbprint: previous,
        notAfter: identity.notAfter,
      },
      'identity renewed',
    );
    this.#schedule(this.#renewalDelay(identity));
  }

  async #issue(): Promise<WorkloadIdentity> {
    const o = this.#options;
    const ttlMs = o.ttlMs ?? SELF_RENEWING_DEFAULTS.ttlMs;
    const { csrPem, keyPem } = await createCsr(o.name, o.keyType ?? SELF_RENEWING_DEFAULTS.keyType);
    // Backdate a little for clock skew between peers, but never by a large part of a short lifetime.
    const notBefore = new Date(Date.now() - Math.min(60_000, Math.floor(ttlMs / 10)));
    let signed: SignedCertificate;
    try {
      signed = await o.sign({
        csrPem,
        name: o.name,
        ttlMs,
        notBefore,
        ...(o.spiffeId !== undefined ? { spiffeId: o.spiffeId } : {}),
      });
    } catch (err) {
      throw new CertboundError(
        'ERR_RENEWAL_FAILED',
        `renewal of ${o.name} failed, keeping the current certificate: the CA did not sign (${err instanceof Error ? err.message : 'unknown error'})`,
        { cause: err, details: { name: o.name } },
      );
    }
    const bundlePem = signed.bundlePem;
    const identity = checkIdentity(
      { certPem: signed.certPem, keyPem, bundlePem },
      { origin: `self-renewed ${o.name}`, requireServerAuth: o.requireServerAuth ?? false },
    );
    if (o.writeTo !== undefined) {
      await writeFileAtomic(o.writeTo.bundlePath, bundlePem);
      await writeFileAtomic(o.writeTo.keyPath, keyPem, 0o600);
      await writeFileAtomic(o.writeTo.certPath, signed.certPem);
    }
    return identity;
  }
}
