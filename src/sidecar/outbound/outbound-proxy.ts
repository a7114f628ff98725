import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import type { Agent } from 'undici';
import { spiffeIdOfSubjectAltName } from '../../binding/peer-identity.js';
import { CertboundError, isCertboundError } from '../../errors.js';
import { undiciAgentsPerIdentity } from '../../tls/undici-agents.js';
import type { WorkloadIdentity } from '../../identity/workload-identity.js';
import type { X509Source } from '../../identity/x509-source.js';
import type { Logger } from '../../observability/logger.js';
import type { SidecarMetrics } from '../../observability/metrics.js';
import { endOutboundSpan, startOutboundSpan, tracingActive } from '../../observability/tracing.js';
import type {
  AccessToken,
  TokenProof,
  TokenProvider,
  TokenRequest,
} from '../../token/access-token.js';
import { sendDpopUpstreamRequest } from './dpop-upstream-request.js';
import { adoptInteractionId } from '../../http/adopt-interaction-id.js';
import { writeBearerError } from '../../http/bearer-error-response.js';
import { relayResponseHeaders } from '../forward-headers.js';
import { listen } from '../listen.js';
import { causeCodeOf, codeOf, findCause } from '../../error-cause.js';
import { isLoopback } from '../../loopback.js';
import { requestHasBody } from '../../http/request-has-body.js';

/** One peer the app may call through the outbound listener. */
export interface OutboundUpstream {
  /** First path segment: `http://127.0.0.1:15001/<name>/…`. */
  readonly name: string;
  /** Where the peer's sidecar listens, e.g. `https://payments:15443` (a path is a prefix). */
  readonly url: string;
  /** `audience` of the token request. */
  readonly audience?: string;
  /** RFC 8707 `resource` of the token request. */
  readonly resource?: string;
  /** Scopes to ask for. */
  readonly scope?: string | readonly string[];
  /** SPIFFE ID the server certificate must carry (replaces host-name checking). */
  readonly spiffeId?: string;
  /** `mtls` (default): certificate-bound Bearer token. `dpop`: DPoP-bound token + proofs. */
  readonly proof?: TokenProof;
}

/** Options of {@link startOutboundListener}. */
export interface OutboundListenerOptions {
  readonly source: X509Source;
  readonly tokens: TokenProvider;
  readonly upstreams: readonly OutboundUpstream[];
  /** Default `127.0.0.1`. */
  readonly host?: string;
  /** Default 0 (any free port). */
  readonly port?: number;
  /** Allow a non-loopback `host`. Default false: the listener hands out our tokens. */
  readonly allowNonLoopback?: boolean;
  /** Upstream must answer headers within this time. Default 30 s. */
  readonly timeoutMs?: number;
  readonly logger: Logger;
  readonly metrics?: SidecarMetrics;
}

/** A running outbound listener. */
export interface OutboundListener {
  readonly server: Server;
  readonly host: string;
  readonly port: number;
  /** Stops accepting, waits for in-flight requests (at most `graceMs`), closes the pools. */
  drain(graceMs: number): Promise<void>;
  /** Replaces the upstreams (configuration reload); requests in flight finish on the old ones. */
  setUpstreams(upstreams: readonly OutboundUpstream[]): void;
}

class UpstreamIdentityError extends Error {
  readonly code = 'ERR_UPSTREAM_IDENTITY';
}

function upstreamErrorOf(err: unknown, name: string): CertboundError {
  if (findCause(err, (e) => codeOf(e) === 'ERR_UPSTREAM_IDENTITY') !== undefined)
    return new CertboundError(
      'ERR_UPSTREAM_IDENTITY',
      `Upstream "${name}" presented a certificate without the expected SPIFFE ID.`,
    );
  const code = causeCodeOf(err);
  return new CertboundError(
    'ERR_UPSTREAM_UNREACHABLE',
    `Upstream "${name}" could not be reached over mTLS${code !== undefined ? ` (${code})` : ''}.`,
  );
}

function spiffeCheck(expected: string) {
  return (_host: string, cert: PeerCertificate): Error | undefined => {
    // SPIFFE X.509-SVID §2: exactly one URI SAN; authorize by ID, not by host name.
    return spiffeIdOfSubjectAltName(cert.subjectaltname) === expected
      ? undefined
      : new UpstreamIdentityError(`server SPIFFE ID is not ${expected}`);
  };
}

/**
 * Starts the outbound token proxy: `http://127.0.0.1:15001/<upstream>/<path>` (or, as an
 * HTTP proxy, `http://<upstream>/<path>`) is forwarded to the upstream over mTLS with our
 * certificate and a token bound to that same certificate.
 *
 * @throws TypeError for a non-loopback host without `allowNonLoopback`
 */
export async function startOutboundListener(
  options: OutboundListenerOptions,
): Promise<OutboundListener> {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopback(host) && options.allowNonLoopback !== true) {
    throw new TypeError(
      `outbound host ${host} is not a loopback address; set allowNonLoopback to expose it`,
    );
  }
  const timeoutMs = options.timeoutMs ?? 30_000;
  const logger = options.logger;
  type Agents = ReturnType<typeof undiciAgentsPerIdentity>;
  let upstreams = new Map<string, OutboundUpstream & { origin: URL }>();
  // One agent per (upstream, identity): the token and the certificate always come from
  // the same identity snapshot (RFC 8705 §3: the token is only good with that cert).
  let agents = new Map<string, Agents>();
  /** Puts `list` in force; an unchanged upstream keeps its agents (and their connections). */
  function setUpstreams(list: readonly OutboundUpstream[]): void {
    const next = new Map(list.map((u) => [u.name, { ...u, origin: new URL(u.url) }]));
    const nextAgents = new Map<string, Agents>();
    for (const u of next.values()) {
      const old = upstreams.get(u.name);
      const kept = old !== undefined && old.url === u.url && old.spiffeId === u.spiffeId;
      nextAgents.set(
        u.name,
        (kept ? agents.get(u.name) : undefined) ??
          undiciAgentsPerIdentity({
            keepAliveTimeout: 4_000,
            connect: {
              checkServerIdentity:
                u.spiffeId !== undefined ? spiffeCheck(u.spiffeId) : checkServerIdentity,
            },
          }),
      );
    }
    // A replaced agent finishes the requests it carries, then closes.
    for (const [name, a] of agents) if (nextAgents.get(name) !== a) void a.close();
    upstreams = next;
    agents = nextAgents;
  }
  setUpstreams(options.upstreams);

  function agentFor(name: string, identity: WorkloadIdentity): Agent {
    const perIdentity = agents.get(name);
    if (perIdentity === undefined) throw new CertboundError('ERR_UPSTREAM_UNKNOWN');
    return perIdentity.for(identity);
  }

  async function tokenAndAgent(
    name: string,
    request: TokenRequest,
  ): Promise<{ token: AccessToken; agent: Agent }> {
    for (let attempt = 0; ; attempt++) {
      const identity = options.source.current();
      let token: AccessToken;
      try {
        token = await options.tokens.get(request);
        options.metrics?.tokenFetches.inc({ result: 'ok' });
      } catch (err) {
        const code = isCertboundError(err) ? err.code : 'ERR_INTERNAL';
        options.metrics?.tokenFetches.inc({ result: code });
        throw new CertboundError(
          'ERR_AS_UNAVAILABLE',
          `No token for upstream "${name}": ${isCertboundError(err) ? `${err.code}: ${err.message}` : 'unexpected error'}`,
          { cause: err },
        );
      }
      // A rotation between the two reads: ask again so token and certificate match.
      if (token.thumbprint === identity.thumbprint && options.source.current() === identity)
        return { token, agent: agentFor(name, identity) };
      if (attempt >= 3)
        throw new CertboundError(
          'ERR_AS_UNAVAILABLE',
          `No token bound to the current certificate for upstream "${name}".`,
        );
    }
  }

  function route(req: IncomingMessage): { name: string; path: string } | undefined {
    const url = req.url ?? '/';
    if (/^https?:\/\//i.test(url)) {
      // Forward-proxy form (RFC 9112 §3.2.2): the upstream name is the host.
      const parsed = URL.parse(url);
      return parsed === null
        ? undefined
        : { name: parsed.hostname, path: parsed.pathname + parsed.search };
    }
    const match = /^\/([^/?]+)(.*)$/.exec(url);
    if (match === null) return undefined;
    const rest = match[2] ?? '';
    return { name: match[1] as string, path: rest.startsWith('/') ? rest : `/${rest}` };
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const started = performance.now();
    // FAPI 2.0 Implementation Advice §2.2.1: the app's id goes on (a fresh one when it sent
    // none or a malformed one), and comes back to the app on every answer.
    const interactionId = adoptInteractionId(req, res, logger);
    const target = route(req);
    const upstream = target === undefined ? undefined : upstreams.get(target.name);
    // One span per proxied call, child of the app's traceparent; upstreams get ours.
    const traced =
      tracingActive() && upstream !== undefined
        ? startOutboundSpan(req.headers, upstream.name, req.method ?? 'GET')
        : undefined;
    const done = (status: number, code: string | undefined): void => {
      options.metrics?.outboundRequests.inc({
        upstream: upstream?.name ?? 'unknown',
        result: code ?? 'ok',
      });
      options.metrics?.outboundDuration.observe(
        { upstream: upstream?.name ?? 'unknown' },
        (performance.now() - started) / 1000,
      );
      if (traced !== undefined) endOutboundSpan(traced.span, status, code);
      logger.info(
        {
          method: req.method,
          upstream: upstream?.name,
          proof: upstream?.proof ?? 'mtls',
          status,
          code,
          interactionId,
          durationMs: Math.round((performance.now() - started) * 1000) / 1000,
        },
        'outbound request',
      );
    };
    if (target === undefined || upstream === undefined) {
      const err = new CertboundError(
        'ERR_UPSTREAM_UNKNOWN',
        `No upstream named "${(target?.name ?? '').slice(0, 64)}"; configured: ${[...upstreams.keys()].join(', ') || '(none)'}.`,
      );
      const response = writeBearerError(res, err);
      done(response.status, response.code);
      return;
    }
    const request: TokenRequest = {
      ...(upstream.audience !== undefined ? { audience: upstream.audience } : {}),
      ...(upstream.resource !== undefined ? { resource: upstream.resource } : {}),
      ...(upstream.scope !== undefined ? { scope: upstream.scope } : {}),
      ...(upstream.proof === 'dpop' ? { proof: 'dpop' as const } : {}),
    };
    const abort = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    tokenAndAgent(upstream.name, request)
      .then(({ token, agent }) => {
        const headers = relayResponseHeaders(req.headers) as Record<string, string | string[]>;
        delete headers['authorization'];
        delete headers['expect'];
        headers['host'] = upstream.origin.host;
        // W3C Trace Context: the upstream's span is a child of ours.
        traced?.inject(headers);
        const prefix = upstream.origin.pathname.replace(/\/$/, '');
        if (token.dpop !== undefined) {
          // RFC 9449 §7.1: `Authorization: DPoP` with a fresh proof; the app's own is dropped.
          delete headers['dpop'];
          return sendDpopUpstreamRequest({
            agent,
            accessToken: token.accessToken,
            dpop: token.dpop.handle,
            // Concatenated, never resolved: a path like `//other.host/` must stay on this origin.
            url: new URL(upstream.origin.origin + prefix + target.path),
            method: req.method ?? 'GET',
            headers,
            body: requestHasBody(req) ? req : null,
            signal: abort.signal,
            timeoutMs,
          });
        }
        headers['authorization'] = `Bearer ${token.accessToken}`;
        return agent.request({
          origin: upstream.origin.origin,
          method: req.method as 'GET',
          path: prefix + target.path,
          headers,
          body: requestHasBody(req) ? req : null,
          signal: abort.signal,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        });
      })
      .then(
        (answer) => {
          if (res.destroyed) {
            answer.body.destroy();
            return;
          }
          const out = relayResponseHeaders(answer.headers);
          delete out['x-fapi-interaction-id'];
          res.writeHead(answer.statusCode, out);
          answer.body.on('error', () => res.destroy());
          res.once('close', () => {
            if (!answer.body.readableEnded) answer.body.destroy();
          });
          answer.body.pipe(res);
          res.once('finish', () => done(answer.statusCode, undefined));
        },
        (err: unknown) => {
          if (abort.signal.aborted) return;
          const error = isCertboundError(err) ? err : upstreamErrorOf(err, upstream.name);
          if (!isCertboundError(err))
            logger.warn({ code: error.code, reason: String(err) }, 'upstream request failed');
          const response = writeBearerError(res, error);
          done(response.status, response.code);
        },
      );
  }

  const server = createServer({ keepAliveTimeout: 5_000 }, handle);
  server.on('connection', (socket) => {
    options.metrics?.activeConnections.inc({ listener: 'outbound' });
    socket.once('close', () => {
      options.metrics?.activeConnections.dec({ listener: 'outbound' });
    });
  });
  await listen(server, options.port, host, 'outbound');
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    host,
    port,
    setUpstreams,
    async drain(graceMs: number): Promise<void> {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      timer.unref();
      await closed;
      clearTimeout(timer);
      await Promise.all([...agents.values()].map((a) => a.close()));
      agents.clear();
    },
  };
}
