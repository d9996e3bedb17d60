/** `--reports.own-networks`: which report sources are our own sending hosts. An IP is only ever classified, never a label. */
import { BlockList, isIP } from 'node:net';
import type { Source } from './report';

/** Parses `203.0.113.0/24,2001:db8::/32,198.51.100.7`; throws naming the entry that is not an address or net. */
export function ownNetworks(entries: string[]): (ip: string) => Source {
  const list = new BlockList();
  for (const entry of entries) {
    const [addr, bits, extra] = entry.split('/');
    const family = isIP(addr);
    const prefix = bits === undefined ? (family === 6 ? 128 : 32) : Number(bits);
    const max = family === 6 ? 128 : 32;
    if (!family || extra !== undefined || !/^\d{1,3}$/.test(String(prefix)) || prefix > max) {
      throw new Error(`${JSON.stringify(entry)} is not an IP address or network (use 203.0.113.0/24 or 2001:db8::/32)`);
    }
    list.addSubnet(addr, prefix, family === 6 ? 'ipv6' : 'ipv4');
  }
  return (ip: string) => {
    // ::ffff:192.0.2.1 is the IPv4 host 192.0.2.1.
    const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1];
    const addr = v4 ?? ip;
    const family = isIP(addr);
    if (!family) return 'other';
    return list.check(addr, family === 6 ? 'ipv6' : 'ipv4') ? 'own' : 'other';
  };
}
