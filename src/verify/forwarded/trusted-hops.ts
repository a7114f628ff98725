import { BlockList, isIP } from 'node:net';
import { constantTimeEqual } from '../../binding/constant-time-equal.js';
import type { PeerIdentity } from '../../binding/peer-identity.js';

/** Which connections may forward a client certificate (`inbound.forwardedClientCert.trustedHops`). */
export interface TrustedHopsOptions {
  /** SPIFFE IDs of the proxies' own client certificates. */
  readonly spiffeIds?: readonly string[] | undefined;
  /** RFC 8705 x5t#S256 thumbprints of the proxies' own client certificates. */
  readonly thumbprints?: readonly string[] | undefined;
  /**
   * Source addresses or CIDR ranges (`10.0.0.0/8`, `fd00::/8`, `127.0.0.1`) the proxies
   * connect from; when set, a hop must match one of them as well. Unset: any address.
   */
  readonly addresses?: readonly string[] | undefined;
}

/** The parts of an address entry, or undefined when it is not an IP address or CIDR range. */
export function addressEntryOf(
  entry: string,
): { address: string; prefix: number | undefined; family: 'ipv4' | 'ipv6' } | undefined {
  const slash = entry.indexOf('/');
  const address = slash < 0 ? entry : entry.slice(0, slash);
  const version = isIP(address);
  if (version === 0) return undefined;
  const family = version === 4 ? 'ipv4' : 'ipv6';
  if (slash < 0) return { address, prefix: undefined, family };
  const bits = entry.slice(slash + 1);
  const prefix = /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
  if (!(prefix >= 0 && prefix <= (version === 4 ? 32 : 128))) return undefined;
  return { address, prefix, family };
}

/** A test of a connection against the allow-list. */
export type TrustedHopTest = (peer: PeerIdentity, remoteAddress: string | undefined) => boolean;

/**
 * The allow-list test: the connection's verified certificate has one of `spiffeIds` or one
 * of `thumbprints` (compared in constant time), AND — when `addresses` is set — the
 * connection comes from one of them (IPv4-mapped IPv6 matches its IPv4 range).
 *
 * @throws TypeError when neither `spiffeIds` nor `thumbprints` is given, or an address
 *   entry is not an IP address or CIDR range
 */
export function trustedHopTest(options: TrustedHopsOptions): TrustedHopTest {
  const spiffeIds = [...(options.spiffeIds ?? [])];
  const thumbprints = [...(options.thumbprints ?? [])];
  if (spiffeIds.length === 0 && thumbprints.length === 0)
    throw new TypeError(
      'trustedHops needs spiffeIds or thumbprints (an address alone is not an identity)',
    );
  let addresses: BlockList | undefined;
  if (options.addresses !== undefined && options.addresses.length > 0) {
    addresses = new BlockList();
    for (const entry of options.addresses) {
      const parsed = addressEntryOf(entry);
      if (parsed === undefined)
        throw new TypeError(`trustedHops.addresses: ${entry} is not an IP address or CIDR range`);
      if (parsed.prefix === undefined) addresses.addAddress(parsed.address, parsed.family);
      else addresses.addSubnet(parsed.address, parsed.prefix, parsed.family);
    }
  }
  const list = addresses;
  // A PeerIdentity lives as long as its connection: its verdict is computed once, not per request.
  const verdicts = new WeakMap<PeerIdentity, boolean>();
  const isNamed = (peer: PeerIdentity): boolean => {
    const known = verdicts.get(peer);
    if (known !== undefined) return known;
    const id = peer.spiffeId;
    let named = false;
    // Every entry is compared, so the time does not tell which one matched.
    for (const s of spiffeIds) if (id !== undefined && constantTimeEqual(id, s)) named = true;
    for (const t of thumbprints) if (constantTimeEqual(peer.thumbprint, t)) named = true;
    verdicts.set(peer, named);
    return named;
  };
  return (peer, remoteAddress) => {
    if (!isNamed(peer)) return false;
    if (list === undefined) return true;
    if (remoteAddress === undefined) return false;
    const version = isIP(remoteAddress);
    return version !== 0 && list.check(remoteAddress, version === 4 ? 'ipv4' : 'ipv6');
  };
}
