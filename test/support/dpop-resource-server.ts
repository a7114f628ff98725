import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { calculateJwkThumbprint, decodeJwt, EmbeddedJWK, jwtVerify, type JWK } from 'jose';
import type { TestWorkload } from './pki.js';

/** One DPoP proof the resource server accepted or refused. */
export interface SeenProof {
  readonly jti: string;
  readonly htm: string;
  readonly htu: string;
  readonly nonce: string | undefined;
  readonly jkt: string;
  readonly tokenJkt: string | undefined;
  readonly outcome: 'ok' | 'use_dpop_nonce' | 'invalid';
}

/** A running DPoP-checking HTTPS resource server (RFC 9449 §7 and §9, with nonces). */
export interface DpopResourceServer {
  readonly url: string;
  readonly proofs: SeenProof[];
  /** Bodies of the accepted requests, in order. */
  readonly bodies: string[];
  /** Issues a new nonce: proofs with the old one get `use_dpop_nonce` from now on. */
  rotateNonce(): void;
  close(): Promise<void>;
}

const b64u = (data: Buffer): string => data.toString('base64url');

/**
 * An HTTPS server (with `workload`'s certificate) that checks what RFC 9449 asks a resource
 * server to check of `Authorization: DPoP` requests — a proof signed by its embedded key,
 * `typ`, `htm`, `htu`, `ath`, a `jti` never seen before, the server's current nonce (else
 * `401 WWW-Authenticate: DPoP error="use_dpop_nonce"` + `DPoP-Nonce`), and the token's
 * `cnf.jkt` = the proof key's thumbprint — and records every proof. It does not verify the
 * access token's signature (the tests read its claims from the real AS's answer).
 */
export async function startDpopResourceServer(workload: TestWorkload): Promise<DpopResourceServer> {
  let nonce = b64u(randomBytes(16));
  const jtis = new Set<string>();
  const proofs: SeenProof[] = [];
  const bodies: string[] = [];
  let origin = '';
  const server: Server = createServer(
    { key: workload.keyPem, cert: workload.certPem },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void (async () => {
          const refuse = (error: string, outcome: SeenProof['outcome']): void => {
            res.writeHead(401, {
              'www-authenticate': `DPoP error="${error}", algs="ES256"`,
              ...(outcome === 'use_dpop_nonce' ? { 'dpop-nonce': nonce } : {}),
              'content-type': 'application/json',
            });
            res.end(JSON.stringify({ error }));
          };
          const auth = req.headers.authorization ?? '';
          const proof = req.headers.dpop;
          if (!auth.startsWith('DPoP ') || typeof proof !== 'string')
            return refuse('invalid_token', 'invalid');
          const token = auth.slice(5);
          let payload;
          let jwk: JWK;
          try {
            const verified = await jwtVerify(proof, EmbeddedJWK, {
              typ: 'dpop+jwt',
              algorithms: ['ES256', 'PS256', 'EdDSA'],
            });
            payload = verified.payload;
            jwk = verified.protectedHeader.jwk as JWK;
          } catch {
            return refuse('invalid_dpop_proof', 'invalid');
          }
          const jkt = await calculateJwkThumbprint(jwk);
          const cnf = decodeJwt(token)['cnf'] as { jkt?: string } | undefined;
          const path = (req.url ?? '/').split('?')[0];
          const seen: Omit<SeenProof, 'outcome'> = {
            jti: String(payload.jti),
            htm: String(payload['htm']),
            htu: String(payload['htu']),
            nonce: typeof payload['nonce'] === 'string' ? payload['nonce'] : undefined,
            jkt,
            tokenJkt: cnf?.jkt,
          };
          const ath = b64u(createHash('sha256').update(token).digest());
          const valid =
            seen.htm === req.method &&
            seen.htu === `${origin}${path}` &&
            payload['ath'] === ath &&
            !jtis.has(seen.jti) &&
            seen.tokenJkt === jkt;
          jtis.add(seen.jti);
          if (!valid) {
            proofs.push({ ...seen, outcome: 'invalid' });
            return refuse('invalid_dpop_proof', 'invalid');
          }
          if (seen.nonce !== nonce) {
            proofs.push({ ...seen, outcome: 'use_dpop_nonce' });
            return refuse('use_dpop_nonce', 'use_dpop_nonce');
          }
          proofs.push({ ...seen, outcome: 'ok' });
          bodies.push(Buffer.concat(chunks).toString());
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ path: req.url }));
        })();
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `https://localhost:${(server.address() as AddressInfo).port}`;
  return {
    url: origin,
    proofs,
    bodies,
    rotateNonce() {
      nonce = b64u(randomBytes(16));
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
