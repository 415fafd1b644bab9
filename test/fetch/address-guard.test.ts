import t from 'tap';
import { judgeAddress } from '../../src/fetch/address-guard.js';

const closed = { allowPrivate: false };
const open = { allowPrivate: true };

t.test('global unicast addresses are allowed', async (t) => {
  for (const address of ['93.184.216.34', '8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '2a00:1450:4001:82a::200e', '[2606:4700::1]', '::ffff:8.8.8.8', '64:ff9b::808:808']) {
    t.ok(judgeAddress(address, closed).allowed, address);
  }
});

t.test('everything else is refused by default, with its range named', async (t) => {
  const cases: [string, RegExp][] = [
    ['127.0.0.1', /loopback/],
    ['127.255.255.254', /loopback/],
    ['10.0.0.1', /private/],
    ['172.16.5.4', /private/],
    ['192.168.1.1', /private/],
    ['169.254.169.254', /linkLocal/], // cloud metadata
    ['100.64.0.1', /carrierGradeNat/],
    ['0.0.0.0', /unspecified/],
    ['0.1.2.3', /unspecified/],
    ['224.0.0.1', /multicast/],
    ['255.255.255.255', /broadcast/],
    ['192.0.2.10', /reserved/], // documentation
    ['198.51.100.1', /reserved/],
    ['203.0.113.9', /reserved/],
    ['198.18.0.1', /reserved/], // benchmarking
    ['240.0.0.1', /reserved/],
    ['::1', /loopback/],
    ['[::1]', /loopback/],
    ['::', /unspecified/],
    ['fe80::1', /linkLocal/],
    ['fe80::1%eth0', /linkLocal/],
    ['fc00::1', /uniqueLocal/],
    ['fd12:3456::1', /uniqueLocal/],
    ['ff02::1', /multicast/],
    ['2001:db8::1', /reserved/], // documentation
    ['::ffff:127.0.0.1', /loopback \(IPv4 in mapped\)/],
    ['::ffff:7f00:1', /loopback \(IPv4 in mapped\)/],
    ['::ffff:169.254.169.254', /linkLocal \(IPv4 in mapped\)/],
    ['::ffff:0:10.0.0.1', /private \(IPv4 in mapped\)/], // SIIT
    ['::127.0.0.1', /loopback \(IPv4 in /], // ipaddr.js reads the dotted form as mapped
    ['::7f00:1', /loopback \(IPv4 in IPv4-compatible\)/],
    ['::a00:1', /private \(IPv4 in IPv4-compatible\)/],
    ['2002:7f00:1::', /loopback \(IPv4 in 6to4\)/],
    ['2002:a9fe:a9fe::1', /linkLocal \(IPv4 in 6to4\)/],
    ['64:ff9b::7f00:1', /loopback \(IPv4 in NAT64\)/],
    ['64:ff9b::a9fe:a9fe', /linkLocal \(IPv4 in NAT64\)/],
    ['64:ff9b:1::1', /IPv4 in local NAT64/],
    // Teredo: server 65.54.227.120, client 127.0.0.1 (bits flipped: 0x80ff:0xfffe).
    ['2001:0:4136:e378:8000:63bf:80ff:fffe', /loopback \(IPv4 in Teredo\)/],
    ['not an address', /unparseable/],
    ['', /unparseable/],
  ];
  for (const [address, range] of cases) {
    const verdict = judgeAddress(address, closed);
    t.notOk(verdict.allowed, `${address} refused`);
    t.match(verdict.range, range, `${address} is ${range}`);
  }
});

t.test('ALLOW_PRIVATE_NETWORKS opens loopback, private, CGNAT and unique-local, nothing more', async (t) => {
  for (const address of ['127.0.0.1', '10.1.2.3', '192.168.0.5', '100.64.1.1', '::1', 'fd00::5', '::ffff:127.0.0.1', '2002:c0a8:1::']) {
    t.ok(judgeAddress(address, open).allowed, `${address} allowed`);
  }
  for (const address of ['169.254.169.254', 'fe80::1', '0.0.0.0', '::', '224.0.0.1', '192.0.2.1', '::ffff:169.254.169.254']) {
    t.notOk(judgeAddress(address, open).allowed, `${address} still refused`);
  }
});
