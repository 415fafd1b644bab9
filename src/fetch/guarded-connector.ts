// An undici connector that only opens sockets to addresses the guard allows.
//
// The host is resolved here, every address it resolves to is judged, and the socket is opened to
// exactly the address that was judged: DNS cannot answer differently between the check and the
// connection (rebinding), and since every connection (each redirect hop included) goes through
// here, nothing reaches a forbidden address. A refused address never sees a single packet.
import dns from 'node:dns';
import net from 'node:net';
import { buildConnector } from 'undici';
import { judgeAddress, type AddressVerdict } from './address-guard.js';

export class ForbiddenAddressError extends Error {
  override name = 'ForbiddenAddressError';
  constructor(
    readonly host: string,
    readonly address: string,
    readonly range: string,
    /** Whether ALLOW_PRIVATE_NETWORKS would have let it through. */
    readonly privateNetwork = false,
  ) {
    super(`${host} resolves to ${address} (${range}), which the service does not connect to`);
  }
}

export type LookupAll = (hostname: string) => Promise<string[]>;

/** All addresses a name resolves to, in the resolver's order. */
export const systemLookup: LookupAll = async (hostname) =>
  (await dns.promises.lookup(hostname, { all: true, verbatim: true })).map((entry) => entry.address);

export interface GuardOptions {
  allowPrivate: boolean;
  connectTimeoutMs: number;
  /** Name resolution; tests substitute their own. */
  lookup?: LookupAll;
  /** The verdict on an address; tests substitute one that lets a loopback server play a public host. */
  judge?: (address: string) => AddressVerdict;
}

export function guardedConnector({
  allowPrivate,
  connectTimeoutMs,
  lookup = systemLookup,
  judge = (address) => judgeAddress(address, { allowPrivate }),
}: GuardOptions): buildConnector.connector {
  const connect = buildConnector({ timeout: connectTimeoutMs });

  async function checkedAddress(hostname: string): Promise<string> {
    const addresses = net.isIP(hostname) ? [hostname] : await lookup(hostname);
    if (addresses.length === 0) throw new Error(`${hostname} resolves to no address`);
    // Every answer must be allowed: a name that resolves to one public and one private address
    // is refused, whichever would have been tried first.
    for (const address of addresses) {
      const verdict = judge(address);
      if (!verdict.allowed) throw new ForbiddenAddressError(hostname, address, verdict.range, verdict.privateNetwork);
    }
    return addresses[0]!;
  }

  return (options, callback) => {
    const hostname = options.hostname.replace(/^\[|\]$/g, '');
    checkedAddress(hostname).then(
      (address) => {
        // `host` still names the original host, so TLS verifies the certificate against the name.
        connect({ ...options, hostname: address }, (error, socket) => {
          if (error || !socket) return callback(error ?? new Error('no socket'), null);
          const peer = socket.remoteAddress;
          const verdict = peer ? judge(peer) : { allowed: false, range: 'unknown' };
          if (!verdict.allowed) {
            socket.destroy();
            return callback(new ForbiddenAddressError(hostname, peer ?? 'unknown', verdict.range, verdict.privateNetwork), null);
          }
          callback(null, socket);
        });
      },
      (error: Error) => callback(error, null),
    );
  };
}
