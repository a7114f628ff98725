import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { CertboundError } from '../errors.js';
import { checkIdentity } from './check-identity.js';
import { watchDirectories, type DirectoryWatch } from './directory-watch.js';
import { readIdentityFiles } from './identity-files-snapshot.js';
import { RefreshSchedule } from './refresh-schedule.js';
import { FailureLog, identityLogger } from './identity-logger.js';
import { droppedCas, rotationVerdictOf } from './rotation-verdict.js';
import { awaitStableChange } from './stable-change.js';
import type { IdentityMaterial, WorkloadIdentity } from './workload-identity.js';
import { X509SourceBase } from './x509-source-base.js';

/**
 * The defaults of {@link FileX509SourceOptions}: their one home (config
 * `identity.pollInterval` takes its default from here).
 */
export const FILE_SOURCE_DEFAULTS = {
  // Only the fallback for missed fs.watch events (inotify limits, network filesystems): a
  // renewed Secret already takes the kubelet 1–2 min to arrive.
  pollIntervalMs: 5_000,
  // Quiet across all three files before a change is read (issue 12: half-written bundles).
  debounceMs: 500,
} as const;

/** Options of {@link FileX509Source.create}. */
export interface FileX509SourceOptions {
  /** Leaf certificate followed by intermediates (PEM). */
  certPath: string;
  /** Private key of the leaf (PEM). */
  keyPath: string;
  /** Trust bundle: one or more CA certificates (PEM). */
  bundlePath: string;
  /** Polling fallback period. Default 5000 ms. */
  pollIntervalMs?: number;
  /**
   * The quiet period: time after the last change notification before the files are read,
   * and the gap between the two reads that must agree before a change is acted on. A
   * candidate that is invalid, or a bundle that drops a trusted CA, must stay the same for
   * one more quiet period. Default 500 ms; writers that pause longer between files than
   * this (a slow script) need a larger value.
   */
  debounceMs?: number;
  /** Also require the serverAuth EKU (the identity serves TLS). Default false. */
  requireServerAuth?: boolean;
  /** Accept a self-signed leaf (`self_signed_tls_client_auth`, RFC 8705 §2.2). Default false.. */
  selfSignedLeaf?: boolean;
  /** Parent logger; the source logs through its `identity` child. */
  logger?: Logger;
  /** Clock, for tests of validity windows. */
  now?: () => number;
}

/** Default quiet period, see {@link FileX509SourceOptions.debounceMs}. */

/**
 * An {@link X509Source} that follows a certificate, key and bundle on disk — the files
 * cert-manager, a Kubernetes Secret volume or `make rotate` write.
 *
 * It watches the *directories* (`fs.watch`) and polls as a fallback, so it sees a
 * Kubernetes `..data` symlink swap, a rename-over (`mv`) and an in-place rewrite. Reads are
 * debounced and must agree twice in a row, so a half-written file is never taken as final.
 * Every new value passes {@link checkIdentity} first; a failure keeps the last good
 * identity, calls `onError` with the code and logs once per distinct failure.
 * An update is published only when the leaf, key or bundle actually changed.
 */
export class FileX509Source extends X509SourceBase {
  readonly #options: Required<Omit<FileX509SourceOptions, 'logger' | 'now'>> & {
    now: (() => number) | undefined;
  };
  readonly #logger: Logger;
  readonly #failures: FailureLog;
  #watch: DirectoryWatch | undefined;
  readonly #schedule: RefreshSchedule;
  #lastDigest = '';

  private constructor(options: FileX509SourceOptions, logger: Logger) {
    super();
    this.#options = {
      certPath: options.certPath,
      keyPath: options.keyPath,
      bundlePath: options.bundlePath,
      pollIntervalMs: options.pollIntervalMs ?? FILE_SOURCE_DEFAULTS.pollIntervalMs,
      debounceMs: options.debounceMs ?? FILE_SOURCE_DEFAULTS.debounceMs,
      requireServerAuth: options.requireServerAuth ?? false,
      selfSignedLeaf: options.selfSignedLeaf ?? false,
      now: options.now,
    };
    this.#logger = logger;
    this.#failures = new FailureLog(logger);
    this.#schedule = new RefreshSchedule({
      refresh: () => this.#refresh(),
      quietMs: this.#options.debounceMs,
      closed: () => this.closed,
      // Only a close() racing the refresh gets here; nothing is left to update.
      onError: (err) => {
        if (!this.closed) this.#logger.error({ err }, 'identity refresh failed');
      },
    });
  }

  /**
   * Loads the files and starts watching them.
   *
   * @returns a source whose `current()` already holds a checked identity
   * @throws CertboundError when the first load fails: ERR_FILE_UNREADABLE naming the file,
   *   or the {@link checkIdentity} code naming the certificate file
   * @throws TypeError on bad options
   */
  static async create(options: FileX509SourceOptions): Promise<FileX509Source> {
    for (const key of ['certPath', 'keyPath', 'bundlePath'] as const) {
      if (typeof options[key] !== 'string' || options[key] === '')
        throw new TypeError(`FileX509Source: ${key} must be a non-empty path`);
    }
    if (options.pollIntervalMs !== undefined && !(options.pollIntervalMs > 0))
      throw new TypeError('FileX509Source: pollIntervalMs must be > 0');
    const source = new FileX509Source(options, identityLogger(options.logger));
    const snapshot = await readIdentityFiles(source.#options);
    if (!snapshot.ok) throw snapshot.error;
    const identity = source.#check(snapshot.material);
    source.#lastDigest = snapshot.digest;
    source.publish(identity);
    source.#logger.info(
      {
        thumbprint: identity.thumbprint,
        spiffeId: identity.spiffeId,
        notAfter: identity.notAfter,
        cert: options.certPath,
      },
      'identity loaded',
    );
    const o = source.#options;
    source.#watch = watchDirectories(
      [dirname(o.certPath), dirname(o.keyPath), dirname(o.bundlePath)],
      {
        pollIntervalMs: o.pollIntervalMs,
        onSignal: (reason) => source.#schedule.signal(reason),
      },
    );
    return source;
  }

  /**
   * Reads and checks the files now (skipping the debounce); resolves once done. A failed
   * check is reported through `onError`, not thrown.
   */
  async reload(): Promise<void> {
    if (this.closed) throw new CertboundError('ERR_SOURCE_CLOSED');
    await this.#schedule.run();
  }

  override async close(): Promise<void> {
    this.#watch?.close();
    this.#watch = undefined;
    this.#schedule.close();
    await super.close();
    await this.#schedule.running?.catch(() => undefined);
  }

  async #refresh(): Promise<void> {
    const change = await awaitStableChange({
      lastDigest: this.#lastDigest,
      read: () => readIdentityFiles(this.#options),
      pause: () => this.#schedule.pause(),
      closed: () => this.closed,
      verdictOf: (snapshot) =>
        rotationVerdictOf(
          snapshot,
          this.current(),
          (material) => this.#check(material),
          this.#options.certPath,
        ),
      onHeld: (identity) => this.#logHeld(identity),
    });
    if (change === undefined) return;
    this.#lastDigest = change.digest;
    const verdict = change.verdict;
    if (verdict.kind === 'same') this.#failures.reset();
    else if (verdict.kind === 'reject') this.#rejected(verdict.error);
    else this.#publishRotation(verdict.identity);
  }

  #logHeld(identity: WorkloadIdentity): void {
    const previous = this.current();
    this.#logger.info(
      {
        dropped: droppedCas(previous, identity),
        bundleSize: identity.bundle.length,
        previousBundleSize: previous.bundle.length,
        holdMs: this.#options.debounceMs,
      },
      'trust bundle drops a trusted CA; held for one more quiet period',
    );
  }

  #publishRotation(identity: WorkloadIdentity): void {
    this.#failures.reset();
    const previous = this.current();
    this.publish(identity);
    this.#logger.info(
      {
        thumbprint: identity.thumbprint,
        previousThumbprint: previous.thumbprint,
        spiffeId: identity.spiffeId,
        notAfter: identity.notAfter,
        bundleSize: identity.bundle.length,
      },
      'identity rotated',
    );
  }

  #rejected(error: CertboundError): void {
    this.#failures.failure(
      `${error.code}|${error.message}`,
      { code: error.code, cert: this.#options.certPath },
      `identity update rejected, keeping the current certificate: ${error.message}`,
    );
    this.reject(error);
  }

  #check(material: IdentityMaterial): WorkloadIdentity {
    const o = this.#options;
    return checkIdentity(material, {
      requireServerAuth: o.requireServerAuth,
      selfSignedLeaf: o.selfSignedLeaf,
      origin: o.certPath,
      ...(o.now !== undefined ? { now: o.now } : {}),
    });
  }
}
