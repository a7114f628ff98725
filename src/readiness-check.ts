/**
 * What a component says about whether the sidecar may take traffic. Each component owns
 * its check (the certificate source, the verifier's JWKS, the token client); the sidecar
 * only composes them into `/readyz`.
 */
export interface ReadinessStatus {
  readonly ok: boolean;
  /** Why it is not ok: names the component, the URL or file, and the last error. Secret-free. */
  readonly reason?: string;
}

/** One named readiness check, read on every probe (cheap, synchronous). */
export interface ReadinessCheck {
  /** Key in the `/readyz` body: `certificate`, `jwks`, `tokenEndpoint`. */
  readonly name: string;
  check(): ReadinessStatus;
}
