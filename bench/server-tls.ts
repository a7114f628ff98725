import { readFileSync } from 'node:fs';

/** The server identity files every bench server is given (JSON spec in argv[2]). */
export interface ServerTlsFiles {
  certPath: string;
  keyPath: string;
  caPath: string;
}

/**
 * TLS options of a bench server doing the sidecar's job at the handshake: TLS ≥ 1.2 and a
 * client certificate required and verified against the bundle, so every variant pays the
 * same mTLS cost.
 */
export function mtlsServerOptions(files: ServerTlsFiles): {
  cert: Buffer;
  key: Buffer;
  ca: Buffer;
  requestCert: true;
  rejectUnauthorized: true;
  minVersion: 'TLSv1.2';
} {
  return {
    cert: readFileSync(files.certPath),
    key: readFileSync(files.keyPath),
    ca: readFileSync(files.caPath),
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
  };
}
