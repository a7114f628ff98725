// @peculiar/x509 decorates its ASN.1 schemas: reflect-metadata must load first.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

/** @peculiar/x509 with node's WebCrypto installed as its provider. */
export { x509 };
