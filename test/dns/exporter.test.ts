/**
 * The dns exporter against a real unbound serving test zones (test/dns/unbound.ts), and a local HTTPS
 * server with a test CA for the MTA-STS policies. The built-in Spamhaus definitions are used unchanged,
 * through a DQS key whose zones the test serves; the other lists come from a lists file.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createLogger } from '../../exporters/kit/log';
import { runExporter, type RunningExporter } from '../../exporters/kit/run';
import { definition } from '../../exporters/dns';
import { sample, scrape, scrapeUntil } from '../helpers/exposition';
import { makeTestPki, type TestPki } from '../helpers/tls';
import { freePort } from '../redis/helpers';
import { txtData, Unbound, type Zones } from './unbound';

const KEY = 'testdqskey0123';
const ZEN = `${KEY}.zen.dq.spamhaus.net`;
const DBL = `${KEY}.dbl.dq.spamhaus.net`;
const GOOD_IP = '192.0.2.10';
const LISTED_IP = '192.0.2.66';
const PUBLIC_RESOLVER_IP = '192.0.2.67';
const ODD_IP = '192.0.2.68';
const V6 = '2001:db8::10';
const V6_LISTED = '2001:db8::66';
// 2001:0db8:0000:...:0066 reversed, one nibble a label (RFC 5782 2.4)
const V6_LISTED_NIBBLES = '6.6.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2';

function dkimKey(bits: number): string {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  return publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
}

function zones(): Zones {
  const loopyIncludes = Array.from({ length: 11 }, (_, i) => `include:i${i}.loopy.test`).join(' ');
  return {
    zones: [
      [ZEN, 'static'],
      [DBL, 'static'],
      ['refused.bl.test', 'refuse'],
      ['slow.bl.test', 'deny'],
      ['wrongtype.bl.test', 'static'],
      ['bits.bl.test', 'static'],
      ['ttl.bl.test', 'static'],
      ['good.test', 'static'],
      ['broken.test', 'static'],
      ['loopy.test', 'static'],
      ['twospf.test', 'static'],
    ],
    servfail: ['servfail.bl.test'],
    records: [
      `2.0.0.127.${ZEN}. 300 A 127.0.0.2`,
      `66.2.0.192.${ZEN}. 300 A 127.0.0.2`,
      `66.2.0.192.${ZEN}. 300 A 127.0.0.4`,
      `67.2.0.192.${ZEN}. 300 A 127.255.255.254`,
      `68.2.0.192.${ZEN}. 300 A 10.0.0.1`,
      `${V6_LISTED_NIBBLES}.${ZEN}. 300 A 127.0.0.3`,
      `broken.test.${DBL}. 300 A 127.0.1.2`,
      `twospf.test.${DBL}. 300 A 127.255.255.255`,
      // A name that exists with a TXT but no A: no listing (RFC 5782: the A record is the listing).
      `66.2.0.192.wrongtype.bl.test. 300 TXT "listed, but only as text"`,
      `broken.test.bits.bl.test. 300 A 127.0.0.24`,
      `good.test.bits.bl.test. 300 A 127.0.0.1`,
      `66.2.0.192.ttl.bl.test. 300 A 127.0.0.2`,

      'good.test. 300 MX 10 mx.good.test.',
      'mx.good.test. 300 A 127.0.0.1',
      `_25._tcp.mx.good.test. 300 TLSA 3 1 1 ${'ab'.repeat(32)}`,
      'mail.good.test. 300 A 192.0.2.10',
      'mail6.good.test. 300 AAAA 2001:db8::10',
      `good.test. 300 TXT "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all"`,
      `good.test. 300 TXT "google-site-verification=abc"`,
      `default._domainkey.good.test. 300 TXT ${txtData(`v=DKIM1; k=rsa; p=${dkimKey(2048)}`)}`,
      `_dmarc.good.test. 300 TXT "v=DMARC1; p=reject; rua=mailto:dmarc@good.test"`,
      `_mta-sts.good.test. 300 TXT "v=STSv1; id=20261201"`,
      'mta-sts.good.test. 300 A 127.0.0.1',
      `_smtp._tls.good.test. 300 TXT "v=TLSRPTv1; rua=mailto:tls@good.test"`,

      'broken.test. 300 MX 10 nohost.broken.test.',
      'nohost.broken.test. 300 TXT "no address here"',
      // a SHA-256 digest (matching type 1) must be 32 bytes: this one is 2
      '_25._tcp.nohost.broken.test. 300 TLSA 3 1 1 abcd',
      `broken.test. 300 TXT "v=spf1 ip4:192.0.2.10 -all"`,
      `default._domainkey.broken.test. 300 TXT ${txtData(`v=DKIM1; k=rsa; p=${dkimKey(512)}`)}`,
      `_mta-sts.broken.test. 300 TXT "v=STSv1; id=1"`,
      'mta-sts.broken.test. 300 A 127.0.0.1',

      `loopy.test. 300 TXT "v=spf1 ${loopyIncludes} -all"`,
      ...Array.from({ length: 11 }, (_, i) => `i${i}.loopy.test. 300 TXT "v=spf1 ?all"`),
      `twospf.test. 300 TXT "v=spf1 ip4:192.0.2.0/24 -all"`,
      `twospf.test. 300 TXT "v=spf1 -all"`,
    ],
    ptrs: [`${GOOD_IP} mail.good.test`, `${LISTED_IP} mail.good.test`, `${V6} mail6.good.test`],
  };
}

const LISTS_FILE = `
refused: { zone: refused.bl.test, kind: ip, tier: minor, codes: { 127.0.0.2: listed } }
slow: { zone: slow.bl.test, kind: ip, tier: minor, codes: { 127.0.0.2: listed } }
servfail: { zone: servfail.bl.test, kind: ip, tier: minor, codes: { 127.0.0.2: listed } }
wrongtype: { zone: wrongtype.bl.test, kind: ip, tier: minor, codes: { 127.0.0.2: listed } }
ttl: { zone: ttl.bl.test, kind: ip, tier: minor, codes: { 127.0.0.2: listed } }
bits: { zone: bits.bl.test, kind: domain, tier: minor, bits: { 8: phish, 16: malware }, errors: { 127.0.0.1: refused_by_list } }
`;

/** The MTA-STS policy host of both test domains; broken.test's policy does not allow its MX. */
function policyServer(pki: TestPki): Promise<https.Server> {
  const server = https.createServer({ cert: readFileSync(pki.serverCert), key: readFileSync(pki.serverKey) }, (req, res) => {
    if (req.url !== '/.well-known/mta-sts.txt') return void res.writeHead(404).end();
    const mx = req.headers.host === 'mta-sts.good.test' ? 'mx.good.test' : 'mx.elsewhere.test';
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`version: STSv1\r\nmode: enforce\r\nmx: ${mx}\r\nmax_age: 86400\r\n`);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const quiet = { log: createLogger({ write: () => undefined }) };
const WAIT_MS = 20_000;

describe('dns exporter against a real unbound', () => {
  let unbound: Unbound;
  let pki: TestPki;
  let policy: https.Server;
  let running: RunningExporter | undefined;
  let listsFile: string;

  beforeAll(async () => {
    pki = makeTestPki(['mta-sts.good.test', 'mta-sts.broken.test']);
    listsFile = join(pki.dir, 'lists.yml');
    writeFileSync(listsFile, LISTS_FILE);
    policy = await policyServer(pki);
    unbound = await Unbound.start(zones());
  });
  afterAll(async () => {
    await unbound?.stop();
    await new Promise((resolve) => policy?.close(resolve));
  });
  afterEach(async () => {
    await running?.stop();
    running = undefined;
  });

  const start = (args: string[]) => runExporter(definition, ['--web.listen-address=127.0.0.1:0', `--dns.resolver=${unbound.address}`, '--dns.rate=50', ...args], quiet);
  const until = (ready: (b: string) => boolean) => scrapeUntil(`${running!.url}/metrics`, ready, WAIT_MS, 50);

  test('blocklists: listings with reasons, and refused, error codes, SERVFAIL, timeouts and wrong types never as listed', async () => {
    running = await start([
      `--dns.ips=${GOOD_IP},${LISTED_IP},${PUBLIC_RESOLVER_IP},${ODD_IP},${V6},${V6_LISTED}`,
      '--dns.domains=good.test,broken.test,twospf.test',
      '--dns.ip-lists=spamhaus-zen,refused,slow,servfail,wrongtype',
      '--dns.domain-lists=spamhaus-dbl,bits',
      `--dns.lists-file=${listsFile}`,
      `--dns.spamhaus-dqs-key=${KEY}`,
      '--dns.timeout=500ms',
      '--dns.checks=mx',
    ]);
    // Every lookup of the first round answered (or timed out): 6 IPs on each IP list, 3 domains on each domain list.
    const answered = (b: string, list: string) => sample(b, 'dns_blocklist_query_duration_seconds_count', { list }) ?? 0;
    const body = await until((b) => ['spamhaus-zen', 'refused', 'slow', 'servfail', 'wrongtype'].every((l) => answered(b, l) >= 6) && ['spamhaus-dbl', 'bits'].every((l) => answered(b, l) >= 3));
    const listed = (list: string, target: string, tier = list.startsWith('spamhaus') ? 'major' : 'minor') => sample(body, 'dns_blocklist_listed', { list, target, tier });
    expect(sample(body, 'dns_up')).toBe(1);

    // Spamhaus ZEN through DQS: NXDOMAIN is not listed; 127.0.0.2 + .4 is listed, SBL and XBL; IPv6 by nibbles.
    expect(listed('spamhaus-zen', GOOD_IP)).toBe(0);
    expect(listed('spamhaus-zen', LISTED_IP)).toBe(1);
    expect(sample(body, 'dns_blocklist_listing_reason', { list: 'spamhaus-zen', target: LISTED_IP, reason: 'sbl' })).toBe(1);
    expect(sample(body, 'dns_blocklist_listing_reason', { list: 'spamhaus-zen', target: LISTED_IP, reason: 'xbl' })).toBe(1);
    expect(listed('spamhaus-zen', V6)).toBe(0);
    expect(listed('spamhaus-zen', V6_LISTED)).toBe(1);
    expect(sample(body, 'dns_blocklist_listing_reason', { list: 'spamhaus-zen', target: V6_LISTED, reason: 'css' })).toBe(1);
    // 127.255.255.254 (public resolver) and 10.0.0.1 (undocumented) are query errors, never listings.
    expect(listed('spamhaus-zen', PUBLIC_RESOLVER_IP)).toBeUndefined();
    expect(listed('spamhaus-zen', ODD_IP)).toBeUndefined();
    expect(sample(body, 'dns_blocklist_query_errors_total', { list: 'spamhaus-zen', reason: 'public_resolver' })).toBeGreaterThanOrEqual(1);
    expect(sample(body, 'dns_blocklist_query_errors_total', { list: 'spamhaus-zen', reason: 'unexpected_answer' })).toBeGreaterThanOrEqual(1);
    // DBL: a listed domain, a clean one, and 127.255.255.255 (rate limited) as an error.
    expect(listed('spamhaus-dbl', 'broken.test')).toBe(1);
    expect(sample(body, 'dns_blocklist_listing_reason', { list: 'spamhaus-dbl', target: 'broken.test', reason: 'spam' })).toBe(1);
    expect(listed('spamhaus-dbl', 'good.test')).toBe(0);
    expect(listed('spamhaus-dbl', 'twospf.test')).toBeUndefined();
    expect(sample(body, 'dns_blocklist_query_errors_total', { list: 'spamhaus-dbl', reason: 'rate_limited' })).toBeGreaterThanOrEqual(1);
    // A bitmask list: 24 = phish + malware; its "query refused" code 127.0.0.1 is an error.
    expect(listed('bits', 'broken.test')).toBe(1);
    expect(sample(body, 'dns_blocklist_listing_reason', { list: 'bits', target: 'broken.test', reason: 'malware' })).toBe(1);
    expect(listed('bits', 'good.test')).toBeUndefined();
    expect(sample(body, 'dns_blocklist_query_errors_total', { list: 'bits', reason: 'refused_by_list' })).toBeGreaterThanOrEqual(1);
    // REFUSED, SERVFAIL and timeouts: errors by reason, no listed series at all.
    for (const [list, reason] of [['refused', 'refused'], ['servfail', 'servfail'], ['slow', 'timeout']]) {
      expect(sample(body, 'dns_blocklist_query_errors_total', { list, reason })).toBeGreaterThanOrEqual(6);
      expect(body).not.toMatch(new RegExp(`^dns_blocklist_listed\\{list="${list}"`, 'm'));
    }
    // The name exists with only a TXT record: not listed.
    expect(listed('wrongtype', LISTED_IP)).toBe(0);
    expect(sample(body, 'dns_blocklist_info', { list: 'spamhaus-zen', zone: '<key>.zen.dq.spamhaus.net', kind: 'ip', tier: 'major' })).toBe(1);
    expect(body).not.toContain(KEY);
    expect(sample(body, 'dns_blocklist_query_duration_seconds_count', { list: 'spamhaus-zen' })).toBe(6);
  });

  test('an answer is cached for its TTL; NXDOMAIN is asked again every interval', async () => {
    running = await start([`--dns.ips=${GOOD_IP},${LISTED_IP}`, '--dns.ip-lists=ttl', '--dns.domain-lists=', `--dns.lists-file=${listsFile}`, '--dns.interval=200ms', '--dns.checks=mx']);
    const seen = (b: string, target: string) => sample(b, 'dns_blocklist_last_success_timestamp_seconds', { list: 'ttl', target });
    const first = await until((b) => seen(b, LISTED_IP) !== undefined && seen(b, GOOD_IP) !== undefined);
    // Several rounds later: the NXDOMAIN target was asked again each round, the listed one (TTL 300) never.
    const later = await until((b) => (sample(b, 'dns_blocklist_queries_total', { list: 'ttl' }) ?? 0) >= 6);
    expect(seen(later, LISTED_IP)).toBe(seen(first, LISTED_IP));
    expect(seen(later, GOOD_IP)!).toBeGreaterThan(seen(first, GOOD_IP)!);
    expect(sample(later, 'dns_blocklist_listed', { list: 'ttl', target: LISTED_IP, tier: 'minor' })).toBe(1);
    expect(sample(later, 'dns_blocklist_listed', { list: 'ttl', target: GOOD_IP, tier: 'minor' })).toBe(0);
  });

  test('records: good and broken SPF, DKIM, DMARC, MX, MTA-STS, TLS-RPT; FCrDNS and HELO', async () => {
    const { port } = policy.address() as AddressInfo;
    running = await start([
      `--dns.ips=${GOOD_IP},${LISTED_IP},${V6}`,
      '--dns.domains=good.test,broken.test,loopy.test,twospf.test',
      '--dns.dkim-selectors=default',
      '--dns.helo-names=mail.good.test',
      '--dns.ip-lists=',
      '--dns.domain-lists=',
      `--dns.mta-sts-ca-file=${pki.caCert}`,
      `--dns.mta-sts-connect-to=127.0.0.1:${port}`,
      '--dns.dane-domains=good.test,broken.test',
    ]);
    const domains = ['good.test', 'broken.test', 'loopy.test', 'twospf.test'];
    const checks = ['mx', 'spf', 'dkim', 'dmarc', 'mta_sts', 'tls_rpt'];
    const body = await until(
      (b) =>
        domains.every((domain) => checks.every((check) => sample(b, 'dns_record_check_ok', { domain, check }) !== undefined)) &&
        [GOOD_IP, LISTED_IP, V6].every((target) => sample(b, 'dns_fcrdns_ok', { target }) !== undefined) &&
        ['good.test', 'broken.test'].every((domain) => sample(b, 'dns_record_check_ok', { domain, check: 'dane' }) !== undefined),
    );
    const ok = (domain: string, check: string) => sample(body, 'dns_record_check_ok', { domain, check });
    const problem = (domain: string, check: string, p: string) => sample(body, 'dns_record_check_problem', { domain, check, problem: p });

    for (const check of checks) expect([check, ok('good.test', check)]).toEqual([check, 1]);
    expect(sample(body, 'dns_dkim_key_bits', { domain: 'good.test', selector: 'default' })).toBe(2048);
    expect(sample(body, 'dns_dmarc_policy', { domain: 'good.test', policy: 'reject' })).toBe(1);
    for (const ip of [GOOD_IP, LISTED_IP, V6]) expect(sample(body, 'dns_spf_authorised', { domain: 'good.test', target: ip })).toBe(1);

    // broken.test: an MX without an address, SPF missing two sending IPs, a 512-bit key, no DMARC,
    // an MTA-STS policy that does not allow its MX, no TLS-RPT.
    expect(ok('broken.test', 'mx')).toBe(0);
    expect(problem('broken.test', 'mx', 'host_unresolvable')).toBe(1);
    expect(ok('broken.test', 'spf')).toBe(0);
    expect(problem('broken.test', 'spf', 'ip_not_authorised')).toBe(1);
    expect(sample(body, 'dns_spf_authorised', { domain: 'broken.test', target: GOOD_IP })).toBe(1);
    expect(sample(body, 'dns_spf_authorised', { domain: 'broken.test', target: LISTED_IP })).toBe(0);
    expect(sample(body, 'dns_spf_authorised', { domain: 'broken.test', target: V6 })).toBe(0);
    expect(problem('broken.test', 'dkim', 'too_short')).toBe(1);
    expect(sample(body, 'dns_dkim_key_bits', { domain: 'broken.test', selector: 'default' })).toBe(512);
    expect(problem('broken.test', 'dmarc', 'missing')).toBe(1);
    expect(problem('broken.test', 'mta_sts', 'mx_mismatch')).toBe(1);
    expect(problem('broken.test', 'tls_rpt', 'missing')).toBe(1);
    // DANE: a usable TLSA record for good.test's MX; a digest of the wrong length for broken.test's. unbound here
    // does not validate (no DNSSEC), so neither is validated.
    expect(ok('good.test', 'dane')).toBe(1);
    expect(problem('broken.test', 'dane', 'invalid')).toBe(1);
    expect(sample(body, 'dns_dane_dnssec_validated', { domain: 'good.test' })).toBe(0);
    expect(ok('twospf.test', 'dane')).toBeUndefined();
    // Eleven includes: receivers stop at ten lookups with a permerror.
    expect(problem('loopy.test', 'spf', 'too_many_lookups')).toBe(1);
    expect(sample(body, 'dns_spf_lookups', { domain: 'loopy.test' })).toBeGreaterThan(10);
    expect(problem('twospf.test', 'spf', 'multiple')).toBe(1);
    expect(problem('twospf.test', 'mx', 'missing')).toBe(1);

    // FCrDNS: .10 -> mail.good.test -> .10 (ok); .66 -> mail.good.test, which does not lead back;
    // the IPv6 PTR leads back but to mail6.good.test, not the HELO name.
    expect(sample(body, 'dns_fcrdns_ok', { target: GOOD_IP })).toBe(1);
    expect(sample(body, 'dns_fcrdns_problem', { target: LISTED_IP, problem: 'forward_mismatch' })).toBe(1);
    expect(sample(body, 'dns_fcrdns_problem', { target: V6, problem: 'helo_mismatch' })).toBe(1);
    expect(sample(body, 'dns_fcrdns_ok', { target: V6 })).toBe(0);
  });

  test('a resolver that is down: query errors and dns_up 0 at once, nothing listed, nothing crashes', async () => {
    const closed = await freePort();
    running = await runExporter(definition, [
      '--web.listen-address=127.0.0.1:0',
      `--dns.resolver=127.0.0.1:${closed}`,
      `--dns.ips=${LISTED_IP}`,
      '--dns.domains=broken.test',
      '--dns.ip-lists=spamhaus-zen',
      '--dns.domain-lists=spamhaus-dbl',
      '--dns.timeout=500ms',
    ], quiet);
    const body = await until((b) => sample(b, 'dns_up') === 0 && (sample(b, 'dns_blocklist_query_errors_total', { list: 'spamhaus-zen', reason: 'unreachable' }) ?? 0) + (sample(b, 'dns_blocklist_query_errors_total', { list: 'spamhaus-zen', reason: 'timeout' }) ?? 0) >= 1);
    expect(body).not.toMatch(/^dns_blocklist_listed\{/m);
    expect(body).not.toMatch(/^dns_record_check_ok\{/m);
    const t0 = performance.now();
    const again = await scrape(`${running.url}/metrics`);
    expect(again.status).toBe(200);
    expect(performance.now() - t0).toBeLessThan(3000);
  });

  test('a resolver that swallows queries: timeouts and dns_up 0; with no targets not a single query is sent', async () => {
    const silent = createSocket('udp4');
    const received: Buffer[] = [];
    silent.on('message', (m) => received.push(m));
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    const resolver = `127.0.0.1:${silent.address().port}`;
    try {
      running = await runExporter(definition, ['--web.listen-address=127.0.0.1:0', `--dns.resolver=${resolver}`], quiet);
      for (let i = 0; i < 3; i++) {
        const body = (await scrape(`${running.url}/metrics`)).text;
        expect(sample(body, 'dns_up')).toBe(1);
        expect(sample(body, 'dns_targets', { kind: 'domain' })).toBe(0);
      }
      await running.stop();
      expect(received).toHaveLength(0);

      running = await runExporter(definition, ['--web.listen-address=127.0.0.1:0', `--dns.resolver=${resolver}`, `--dns.ips=${GOOD_IP}`, '--dns.ip-lists=spamhaus-zen', '--dns.domain-lists=', '--dns.timeout=300ms'], quiet);
      const body = await until((b) => sample(b, 'dns_up') === 0 && (sample(b, 'dns_blocklist_query_errors_total', { list: 'spamhaus-zen', reason: 'timeout' }) ?? 0) >= 1);
      expect(received.length).toBeGreaterThan(0);
      expect(body).not.toMatch(/^dns_blocklist_listed\{/m);
    } finally {
      silent.close();
    }
  });

  test('bad flags name themselves', async () => {
    await expect(start(['--dns.ips=192.0.2.300'])).rejects.toThrow(/--dns\.ips.*not an IP address/);
    await expect(start(['--dns.ip-lists=nosuchlist'])).rejects.toThrow(/--dns\.ip-lists: unknown list "nosuchlist"/);
    await expect(start(['--dns.ip-lists=spamhaus-dbl'])).rejects.toThrow(/spamhaus-dbl is a domain list/);
    await expect(start(['--dns.checks=spf,bimi'])).rejects.toThrow(/--dns\.checks: unknown check "bimi"/);
    await expect(start(['--dns.rate=0'])).rejects.toThrow(/--dns\.rate must be greater than 0/);
  });
});
