import * as oauth from 'oauth4webapi';

/** The proof an independent client (oauth4webapi) sends, and how the server answered. */
export interface DpopClient {
  readonly handle: oauth.DPoPHandle;
  readonly keyPair: CryptoKeyPair;
  /**
   * Makes one request through oauth4webapi's `protectedResourceRequest` with `answer`
   * as the transport: returns the `DPoP` header it sent and its `Authorization` value.
   * `answer` returns the server's response (its `DPoP-Nonce` is cached by the handle).
   */
  request(
    token: string,
    method: string,
    url: string,
    answer?: (proof: string, authorization: string) => Promise<Response> | Response,
  ): Promise<{ proof: string; authorization: string; response?: Response; error?: unknown }>;
}

/**
 * A DPoP client made with oauth4webapi's own `DPoP()` handle over `keyPair` (oauth4webapi's
 * `generateKeyPair(alg)` when absent; pass a WebCrypto non-extractable key as a browser does).
 */
export async function dpopClient(alg = 'ES256', keyPair?: CryptoKeyPair): Promise<DpopClient> {
  const keys = keyPair ?? (await oauth.generateKeyPair(alg));
  const handle = oauth.DPoP({}, keys);
  return {
    handle,
    keyPair: keys,
    async request(token, method, url, answer) {
      let proof = '';
      let authorization = '';
      try {
        const response = await oauth.protectedResourceRequest(
          token,
          method,
          new URL(url),
          new Headers(),
          null,
          {
            DPoP: handle,
            [oauth.customFetch]: async (_url, init) => {
              const headers = new Headers(init.headers);
              proof = headers.get('dpop') ?? '';
              authorization = headers.get('authorization') ?? '';
              return answer !== undefined
                ? answer(proof, authorization)
                : new Response('{}', { status: 200 });
            },
          },
        );
        return { proof, authorization, response };
      } catch (error) {
        return { proof, authorization, error };
      }
    },
  };
}

/** A proof made by oauth4webapi for one request. */
export async function proofBy(
  client: DpopClient,
  token: string,
  method: string,
  url: string,
): Promise<string> {
  return (await client.request(token, method, url)).proof;
}
