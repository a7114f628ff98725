import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { CertboundError, isCertboundError } from '../errors.js';
import { checkIdentity } from './check-identity.js';
import { watchDirectories, type DirectoryWatch } from './directory-watch.js';
import { FailureLog, identityLogger } from './identity-logger.js';
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
  /** Parent logger; the source logs through its `identity` child. */
  logger?: Logger;
  /** Clock, for tests of validity windows. */
  now?: () => number;
}

/** What one read of the three files gave: their text, or the read error. */
type Snapshot =
  | { readonly ok: true; readonly material: IdentityMaterial; readonly digest: string }
  | { readonly ok: false; readonly error: CertboundError; readonly digest: string };

/** Default quiet period, see {@link FileX509SourceOptions.debounceMs}. */
// A writer still busy after this many quiet periods is chased again on the next signal.
const MAX_STABILITY_ROUNDS = 20;

/** What a settled candidate would do: nothing, publish, or reject. */
type Verdict =
  | { readonly kind: 'same' }
  | { readonly kind: 'publish'; readonly identity: WorkloadIdentity; readonly hold: boolean }
  | { readonly kind: 'reject'; readonly error: CertboundError };

/** CAs of `previous` that `next` no longer holds, by thumbprint. */
function droppedCas(previous: WorkloadIdentity, next: WorkloadIdentity): number {
  const kept = new Set(next.bundle.map((c) => c.fingerprint256));
  return previous.bundle.filter((c) => !kept.has(c.fingerprint256)).length;
}

function describeReadError(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ENOENT') return 'does not exist';
  if (code === 'EACCES' || code === 'EPERM') return 'is not readable (permission denied)';
  if (code === 'EISDIR') return 'is a directory, not a file';
  return `cannot be read (${typeof code === 'string' ? code : 'unknown error'})`;
}

async function readOne(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new CertboundError(
      'ERR_FILE_UNREADABLE',
      `${what} file ${path} ${describeReadError(err)}.`,
      {
        details: { path },
      },
    );
  }
}

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
  #debounce: NodeJS.Timeout | undefined;
  #lastDigest = '';
  #running: Promise<void> | undefined;
  #again = false;
  #stabilityTimer: { timer: NodeJS.Timeout; resolve: () => void } | undefined;

  private constructor(options: FileX509SourceOptions, logger: Logger) {
    super();
    this.#options = {
      certPath: options.certPath,
      keyPath: options.keyPath,
      bundlePath: options.bundlePath,
      pollIntervalMs: options.pollIntervalMs ?? FILE_SOURCE_DEFAULTS.pollIntervalMs,
      debounceMs: options.debounceMs ?? FILE_SOURCE_DEFAULTS.debounceMs,
      requireServerAuth: options.requireServerAuth ?? false,
      now: options.now,
    };
    this.#logger = logger;
    this.#failures = new FailureLog(logger);
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
    const snapshot = await source.#read();
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
        onSignal: (reason) => source.#signal(reason),
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
    await this.#runRefresh();
  }

  override async close(): Promise<void> {
    this.#watch?.close();
    this.#watch = undefined;
    if (this.#debounce !== undefined) clearTimeout(this.#debounce);
    this.#debounce = undefined;
    if (this.#stabilityTimer !== undefined) {
      clearTimeout(this.#stabilityTimer.timer);
      this.#stabilityTimer.resolve();
    }
    await super.close();
    await this.#running?.catch(() => undefined);
  }

  #signal(reason: 'event' | 'poll'): void {
    if (this.closed) return;
    if (reason === 'poll') {
      void this.#runRefresh();
      return;
    }
    if (this.#debounce !== undefined) clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => {
      this.#debounce = undefined;
      void this.#runRefresh();
    }, this.#options.debounceMs);
    this.#debounce.unref();
  }

  /** Serialises refreshes: one at a time, and one more if asked while running. */
  #runRefresh(): Promise<void> {
    if (this.#running !== undefined) {
      this.#again = true;
      return this.#running;
    }
    const run = async (): Promise<void> => {
      do {
        this.#again = false;
        try {
          await this.#refresh();
        } catch (err) {
          // Only a close() racing the refresh gets here; nothing is left to update.
          if (!this.closed) this.#logger.error({ err }, 'identity refresh failed');
        }
      } while (this.#again && !this.closed);
    };
    this.#running = run().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #refresh(): Promise<void> {
    let candidate = await this.#read();
    if (candidate.digest === this.#lastDigest) return;
    // Act only on content that two reads a quiet period apart agree on (a writer may be
    // between two files, or between two halves of one). An invalid candidate or a bundle
    // that drops a trusted CA must agree once more: a partial write is never rejected or
    // published just because the writer paused.
    let confirmed = 0;
    for (let round = 0; round < MAX_STABILITY_ROUNDS && !this.closed; round++) {
      await this.#pause(this.#options.debounceMs);
      if (this.closed) return;
      const again = await this.#read();
      if (again.digest !== candidate.digest) {
        candidate = again;
        confirmed = 0;
        continue;
      }
      if (candidate.digest === this.#lastDigest) return;
      const verdict = this.#verdictOf(candidate);
      if (verdict.kind === 'same') {
        this.#lastDigest = candidate.digest;
        this.#failures.reset();
        return;
      }
      const held = verdict.kind === 'reject' || verdict.hold;
      if (held && confirmed === 0) {
        confirmed = 1;
        if (verdict.kind === 'publish') this.#logHeld(verdict.identity);
        continue;
      }
      this.#lastDigest = candidate.digest;
      if (verdict.kind === 'reject') this.#rejected(verdict.error);
      else this.#publishRotation(verdict.identity);
      return;
    }
    // Still changing after the last round: the next change event or poll tries again.
  }

  /** What `snapshot` would do to the current identity. */
  #verdictOf(snapshot: Snapshot): Verdict {
    if (!snapshot.ok) return { kind: 'reject', error: snapshot.error };
    let identity: WorkloadIdentity;
    try {
      identity = this.#check(snapshot.material);
    } catch (err) {
      return {
        kind: 'reject',
        error: isCertboundError(err)
          ? err
          : new CertboundError(
              'ERR_CERT_PARSE',
              `${this.#options.certPath}: the files could not be checked.`,
              { cause: err },
            ),
      };
    }
    const previous = this.current();
    if (
      previous.thumbprint === identity.thumbprint &&
      previous.bundlePem === identity.bundlePem &&
      previous.keyPem === identity.keyPem
    )
      return { kind: 'same' };
    // A smaller bundle that drops a CA we trust is what a half-written bundle looks like;
    // a real retirement (retire-ca) survives one more quiet period unchanged.
    const hold =
      identity.bundle.length < previous.bundle.length && droppedCas(previous, identity) > 0;
    return { kind: 'publish', identity, hold };
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

  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#stabilityTimer = undefined;
        resolve();
      }, ms);
      timer.unref();
      this.#stabilityTimer = { timer, resolve };
    });
  }

  #check(material: IdentityMaterial): WorkloadIdentity {
    const o = this.#options;
    return checkIdentity(material, {
      requireServerAuth: o.requireServerAuth,
      origin: o.certPath,
      ...(o.now !== undefined ? { now: o.now } : {}),
    });
  }

  async #read(): Promise<Snapshot> {
    const o = this.#options;
    try {
      const [certPem, keyPem, bundlePem] = await Promise.all([
        readOne(o.certPath, 'certificate'),
        readOne(o.keyPath, 'key'),
        readOne(o.bundlePath, 'trust bundle'),
      ]);
      const digest = createHash('sha256')
        .update(certPem)
        .update('\0')
        .update(keyPem)
        .update('\0')
        .update(bundlePem)
        .digest('hex');
      return { ok: true, material: { certPem, keyPem, bundlePem }, digest };
    } catch (err) {
      const error = isCertboundError(err)
        ? err
        : new CertboundError('ERR_FILE_UNREADABLE', `${o.certPath}: the files cannot be read.`);
      return { ok: false, error, digest: `error:${error.code}:${error.message}` };
    }
  }
}
