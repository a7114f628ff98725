import { isCertboundError } from '../errors.js';
import { checkIdentity, type CheckIdentityOptions } from './check-identity.js';
import type { IdentityMaterial, WorkloadIdentity } from './workload-identity.js';
import { X509SourceBase } from './x509-source-base.js';

/**
 * An {@link X509Source} holding values given in code. Tests and library users with their
 * own delivery use it; `set()` publishes a new value after the same checks as every source.
 */
export class StaticX509Source extends X509SourceBase {
  readonly #check: CheckIdentityOptions;

  private constructor(identity: WorkloadIdentity, check: CheckIdentityOptions) {
    super();
    this.#check = check;
    this.publish(identity);
  }

  /**
   * Creates a source from PEM material.
   *
   * @throws CertboundError when the material fails check-before-publish.
   */
  static create(material: IdentityMaterial, check: CheckIdentityOptions = {}): StaticX509Source {
    return new StaticX509Source(
      checkIdentity(material, { origin: 'static identity', ...check }),
      check,
    );
  }

  /**
   * Replaces the identity after checking it. On failure the previous identity stays,
   * `onError` listeners are told, and the error is thrown.
   */
  set(material: IdentityMaterial): WorkloadIdentity {
    try {
      const identity = checkIdentity(material, { origin: 'static identity', ...this.#check });
      this.publish(identity);
      return identity;
    } catch (err) {
      if (isCertboundError(err)) this.reject(err);
      throw err;
    }
  }
}
