// Which network addresses the service may connect to when it fetches an image.
//
// The service fetches URLs that other people choose, from inside a network. Left alone, a URL could
// make it read the cloud metadata service, an admin page on localhost or anything else only the
// service can reach (SSRF). So only global unicast addresses are allowed. IPv4 addresses hidden in
// IPv6 (mapped, compatible, SIIT, NAT64, 6to4, Teredo) are unwrapped and judged as IPv4, since the
// packets end up there. The check runs on the address the socket is about to connect to (see
// guarded-connector.ts), so neither DNS answers nor redirects can slip past it.
import ipaddr from 'ipaddr.js';

export interface AddressVerdict {
  allowed: boolean;
  /** The range the address falls in, e.g. "loopback" or "private (IPv4 in 6to4)". */
  range: string;
  /** Whether ALLOW_PRIVATE_NETWORKS opens that range (so a refusal can name the setting). */
  privateNetwork?: boolean;
}

/** Ranges opened by ALLOW_PRIVATE_NETWORKS, for internal deployments (and tests on 127.0.0.1). */
const PRIVATE_RANGES = new Set(['loopback', 'private', 'carrierGradeNat', 'uniqueLocal']);

/** The IPv4 address an IPv6 address carries, or undefined when it carries none. */
function embeddedIPv4(address: ipaddr.IPv6): { ipv4: ipaddr.IPv4[]; via: string } | undefined {
  const p = address.parts;
  const v4 = (high: number, low: number) => new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
  switch (address.range()) {
    case 'ipv4Mapped':
    case 'rfc6145':
      return { ipv4: [v4(p[6]!, p[7]!)], via: 'mapped' };
    case 'rfc6052':
      // 64:ff9b::/96 carries the address in its last 32 bits; the local-use 64:ff9b:1::/48 is private.
      return p[2] === 0 ? { ipv4: [v4(p[6]!, p[7]!)], via: 'NAT64' } : { ipv4: [new ipaddr.IPv4([10, 0, 0, 0])], via: 'local NAT64' };
    case '6to4':
      return { ipv4: [v4(p[1]!, p[2]!)], via: '6to4' };
    case 'teredo':
      // Teredo carries the server's address, and the client's with every bit flipped.
      return { ipv4: [v4(p[2]!, p[3]!), v4(~p[6]! & 0xffff, ~p[7]! & 0xffff)], via: 'Teredo' };
    default:
      // IPv4-compatible (::a.b.c.d, deprecated but still routed by some stacks): 96 zero bits first.
      if (p.slice(0, 6).every((part) => part === 0) && (p[6] !== 0 || p[7]! > 1)) return { ipv4: [v4(p[6]!, p[7]!)], via: 'IPv4-compatible' };
      return undefined;
  }
}

/** Judges one IP address (as a string, IPv4 or IPv6, brackets and zone allowed). */
export function judgeAddress(text: string, options: { allowPrivate: boolean }): AddressVerdict {
  let address: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    address = ipaddr.parse(text.replace(/^\[|\]$/g, ''));
  } catch {
    return { allowed: false, range: 'unparseable' };
  }
  const allowedRange = (range: string) => range === 'unicast' || (options.allowPrivate && PRIVATE_RANGES.has(range));

  if (address.kind() === 'ipv6') {
    const embedded = embeddedIPv4(address as ipaddr.IPv6);
    if (embedded) {
      const ranges = embedded.ipv4.map((v4) => v4.range());
      const worst = ranges.find((range) => !allowedRange(range)) ?? ranges[0]!;
      return { allowed: ranges.every(allowedRange), range: `${worst} (IPv4 in ${embedded.via})`, privateNetwork: PRIVATE_RANGES.has(worst) };
    }
  }
  const range = address.range();
  return { allowed: allowedRange(range), range, privateNetwork: PRIVATE_RANGES.has(range) };
}
