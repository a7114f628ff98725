import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { CertboundError, isCertboundError } from '../errors.js';
import type { IdentityMaterial } from './workload-identity.js';

/** The three files of a file-based identity. */
export interface IdentityFilePaths {
  /** Leaf certificate followed by intermediates (PEM). */
  readonly certPath: string;
  /** Private key of the leaf (PEM). */
  readonly keyPath: string;
  /** Trust bundle: one or more CA certificates (PEM). */
  readonly bundlePath: string;
}

/**
 * What one read of the three files gave: their text, or the read error; `digest` tells two
 * reads apart (a failed read's digest is its code and message, so the same failure agrees).
 */
export type IdentityFilesSnapshot =
  | { readonly ok: true; readonly material: IdentityMaterial; readonly digest: string }
  | { readonly ok: false; readonly error: CertboundError; readonly digest: string };

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
 * Reads the three files once. Never throws: an unreadable file gives `ERR_FILE_UNREADABLE`
 * naming it. Does not parse or check the PEM (see `checkIdentity`).
 */
export async function readIdentityFiles(paths: IdentityFilePaths): Promise<IdentityFilesSnapshot> {
  try {
    const [certPem, keyPem, bundlePem] = await Promise.all([
      readOne(paths.certPath, 'certificate'),
      readOne(paths.keyPath, 'key'),
      readOne(paths.bundlePath, 'trust bundle'),
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
      : new CertboundError('ERR_FILE_UNREADABLE', `${paths.certPath}: the files cannot be read.`);
    return { ok: false, error, digest: `error:${error.code}:${error.message}` };
  }
}
