/**
 * The small part of oidc-provider 9's API the dev authorization server uses (the package
 * ships no types). Kept narrow on purpose: anything else is `unknown`.
 */
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  /** An OpenID Provider / OAuth 2.0 authorization server instance. */
  export default class Provider {
    constructor(issuer: string, configuration: Record<string, unknown>);
    readonly issuer: string;
    /** A node `(req, res)` request listener serving every endpoint. */
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    on(event: string, listener: (...args: unknown[]) => void): this;
    /** Stored `client_credentials` access tokens (found by their opaque value). */
    readonly ClientCredentials: {
      find(token: string): Promise<{ destroy(): Promise<void> } | undefined>;
    };
  }

  /** OAuth 2.0 error classes oidc-provider maps to error responses. */
  export const errors: {
    readonly InvalidTarget: new (description?: string) => Error;
    readonly InvalidScope: new (description?: string, scope?: string) => Error;
  };
}
