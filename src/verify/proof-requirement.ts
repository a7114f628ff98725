/**
 * Which proof of possession a route requires (`policies[].proof`):
 * - `mtls` (alias `connection`, the default): `cnf.x5t#S256` = the certificate of this TLS
 *   connection (RFC 8705 §3);
 * - `forwarded`: `cnf.x5t#S256` = a certificate forwarded by a trusted hop (RFC 9440);
 * - `either`: the forwarded certificate when a trusted hop sent one, else the connection's;
 * - `dpop`: `Authorization: DPoP` with a proof whose key is the token's `cnf.jkt` (RFC 9449);
 * - `any`: whichever binding the token carries (DPoP, or a certificate as with `either`);
 * - `both`: the token carries both bindings and both are checked.
 */
export type ProofRequirement =
  'mtls' | 'connection' | 'forwarded' | 'either' | 'dpop' | 'any' | 'both';

/** Every value of {@link ProofRequirement}, for schemas and docs. */
export const PROOF_REQUIREMENTS: readonly ProofRequirement[] = [
  'mtls',
  'connection',
  'forwarded',
  'either',
  'dpop',
  'any',
  'both',
];

/** Where the certificate of an `x5t#S256` binding may come from on a route. */
export type CertificateSources = 'connection' | 'forwarded' | 'either';

/** What a route accepts, derived once from its {@link ProofRequirement}. */
export interface ProofRules {
  readonly requirement: ProofRequirement;
  /** Which certificate an `x5t#S256` binding is checked against. */
  readonly certificates: CertificateSources;
  /** `Authorization: DPoP` is accepted. */
  readonly acceptsDpop: boolean;
  /** Every token must be DPoP-bound (`dpop`, `both`). */
  readonly requiresDpop: boolean;
  /** Every token must be certificate-bound (`mtls`, `forwarded`, `either`, `both`). */
  readonly requiresCertificate: boolean;
}

function rules(
  requirement: ProofRequirement,
  certificates: CertificateSources,
  dpop: 'no' | 'accepted' | 'required',
  requiresCertificate: boolean,
): ProofRules {
  return Object.freeze({
    requirement,
    certificates,
    acceptsDpop: dpop !== 'no',
    requiresDpop: dpop === 'required',
    requiresCertificate,
  });
}

const RULES: Readonly<Record<ProofRequirement, ProofRules>> = {
  mtls: rules('mtls', 'connection', 'no', true),
  connection: rules('connection', 'connection', 'no', true),
  forwarded: rules('forwarded', 'forwarded', 'no', true),
  either: rules('either', 'either', 'no', true),
  // A DPoP token that is also certificate-bound is checked against the certificate too
  // (RFC 9449 §7.2 leaves no scheme that skips a binding the token carries).
  dpop: rules('dpop', 'either', 'required', false),
  any: rules('any', 'either', 'accepted', false),
  both: rules('both', 'either', 'required', true),
};

/** The rules of a route's requirement; undefined is `mtls`. */
export function proofRulesOf(requirement: ProofRequirement | undefined): ProofRules {
  return RULES[requirement ?? 'mtls'];
}
