import { z } from 'zod';
import { addressEntryOf } from '../verify/forwarded/trusted-hops.js';

const nonEmpty = z.string().min(1);
const THUMBPRINT = /^[A-Za-z0-9_-]{43}$/;
const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;

/**
 * `inbound.forwardedClientCert`: client certificates forwarded by a trusted TLS-terminating
 * proxy (RFC 9440, Envoy XFCC, nginx, HAProxy), read only from allow-listed hops.
 */
export const forwardedClientCertSchema = z
  .strictObject({
    format: z.enum(['rfc9440', 'xfcc', 'nginx', 'haproxy']),
    header: z
      .string()
      .refine((v) => HEADER_NAME.test(v), 'must be a lower-case header name (e.g. ssl-client-cert)')
      .optional(),
    trustedHops: z
      .strictObject({
        spiffeIds: z.array(z.string().startsWith('spiffe://', 'must be a spiffe:// ID')).optional(),
        thumbprints: z
          .array(
            z
              .string()
              .refine(
                (v) => THUMBPRINT.test(v),
                'must be a base64url SHA-256 (x5t#S256, 43 characters)',
              ),
          )
          .optional(),
        addresses: z
          .array(
            nonEmpty.refine(
              (entry) => addressEntryOf(entry) !== undefined,
              'must be an IP address or CIDR range (10.0.0.0/8, fd00::/8, 127.0.0.1)',
            ),
          )
          .optional(),
      })
      .superRefine((value, ctx) => {
        if ((value.spiffeIds?.length ?? 0) + (value.thumbprints?.length ?? 0) === 0)
          ctx.addIssue({
            code: 'custom',
            path: ['spiffeIds'],
            message:
              "spiffeIds or thumbprints is required: the proxy's own client certificate is what makes it a trusted hop",
          });
      }),
    cacheSize: z.number().int().min(0).default(1024),
  })
  .superRefine((value, ctx) => {
    if (value.header !== undefined && (value.format === 'rfc9440' || value.format === 'xfcc'))
      ctx.addIssue({
        code: 'custom',
        path: ['header'],
        message: `is only for the nginx and haproxy formats (${value.format} has fixed header names)`,
      });
  });
