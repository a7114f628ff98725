import { BlockList, isIP } from 'node:net';

const LOOPBACK = new BlockList();
// RFC 1122 §3.2.1.3: all of 127.0.0.0/8; RFC 4291 §2.5.3: ::1. BlockList also matches
// IPv4-mapped IPv6 (::ffff:127.0.0.1, RFC 4291 §2.5.5.2) against the IPv4 subnet.
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/**
 * True when `host` — a listen address, or a URL's `hostname` (IPv6 in brackets) — can
 * only be reached from this machine: `localhost` (RFC 6761 §6.3, any case), an address
 * in 127.0.0.0/8, `::1` in any spelling, or an IPv4-mapped `::ffff:127.x.y.z`.
 *
 * Does not resolve names: `127.0.0.1.example.com`, `foo.localhost` and every other name
 * are false, as are `0.0.0.0` / `::` (every interface), shorthand IPv4 (`127.1`) and
 * addresses with a zone index (`::1%lo`).
 */
export function isLoopback(host: string): boolean {
  if (host.toLowerCase() === 'localhost') return true;
  // RFC 3986 §3.2.2: brackets enclose an IPv6 literal only.
  const bracketed = host.startsWith('[') && host.endsWith(']');
  const address = bracketed ? host.slice(1, -1) : host;
  if (address.includes('%')) return false;
  const family = isIP(address);
  if (family === 6) return LOOPBACK.check(address, 'ipv6');
  return family === 4 && !bracketed && LOOPBACK.check(address, 'ipv4');
}
