/** The dns exporter's pure parts on literal inputs: query names, return codes, record texts, targets and lists files. */
import { BUILTIN_LISTS, interpretAnswer, parseListsFile, queryName, reverseIp, withDqsKey } from '../../exporters/dns/lists';
import { parseDkimKey, parseDmarc, parseTags, parseTlsRpt, pickSpf, ptrName, usableTlsa } from '../../exporters/dns/records';
import { decodeTlsaReply, encodeTlsaQuery, queryErrorReason, RateLimiter } from '../../exporters/dns/resolver';
import { buildTargets, parseTargetsFile } from '../../exporters/dns/targets';
import { generateKeyPairSync } from 'node:crypto';

const zen = BUILTIN_LISTS['spamhaus-zen'];
const dbl = BUILTIN_LISTS['spamhaus-dbl'];
const surbl = BUILTIN_LISTS.surbl;

describe('query names', () => {
  test.each([
    ['192.0.2.1', '1.2.0.192'],
    ['127.0.0.2', '2.0.0.127'],
    // RFC 5782 2.4: 32 nibbles, least significant first
    ['2001:db8::1', '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2'],
    ['2001:DB8:1234::abcd', 'd.c.b.a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.4.3.2.1.8.b.d.0.1.0.0.2'],
    ['::ffff:192.0.2.1', '1.0.2.0.0.0.0.c.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0'],
  ])('%s reversed is %s', (ip, reversed) => {
    expect(reverseIp(ip)).toBe(reversed);
  });

  test('IP and domain lists, and PTR names', () => {
    expect(queryName(zen, '192.0.2.1')).toBe('1.2.0.192.zen.spamhaus.org');
    expect(queryName(dbl, 'Example.COM.')).toBe('example.com.dbl.spamhaus.org');
    expect(ptrName('192.0.2.1')).toBe('1.2.0.192.in-addr.arpa');
    expect(ptrName('2001:db8::1')).toMatch(/^1\.(0\.){23}8\.b\.d\.0\.1\.0\.0\.2\.ip6\.arpa$/);
    expect(() => reverseIp('example.com')).toThrow(/not an IP address/);
  });

  test('a DQS key moves the Spamhaus zones to dq.spamhaus.net, and leaves other lists alone', () => {
    expect(withDqsKey(zen, 'abcdef0123456789').zone).toBe('abcdef0123456789.zen.dq.spamhaus.net');
    expect(withDqsKey(dbl, 'abcdef0123456789').zone).toBe('abcdef0123456789.dbl.dq.spamhaus.net');
    expect(withDqsKey(BUILTIN_LISTS.spamcop, 'abcdef0123456789').zone).toBe('bl.spamcop.net');
    expect(withDqsKey(zen, '').zone).toBe('zen.spamhaus.org');
  });
});

describe('return codes', () => {
  test.each([
    [zen, [], { listed: false }],
    [zen, ['127.0.0.2'], { listed: true, reasons: ['sbl'] }],
    [zen, ['127.0.0.4', '127.0.0.11', '127.0.0.2'], { listed: true, reasons: ['pbl', 'sbl', 'xbl'] }],
    [zen, ['127.0.0.10'], { listed: true, reasons: ['pbl_isp'] }],
    // Spamhaus's refusals: typing error, public resolver, rate limit. Never listings.
    [zen, ['127.255.255.252'], { error: 'typing_error' }],
    [zen, ['127.255.255.254'], { error: 'public_resolver' }],
    [zen, ['127.255.255.255'], { error: 'rate_limited' }],
    // Undocumented codes, and a resolver that answers NXDOMAIN with its own address.
    [zen, ['127.0.0.8'], { error: 'unexpected_answer' }],
    [zen, ['198.51.100.7'], { error: 'unexpected_answer' }],
    // One bad code spoils the whole answer: no listing from a partly understood answer.
    [zen, ['127.0.0.2', '127.255.255.254'], { error: 'public_resolver' }],
    [zen, ['127.0.0.2', '127.0.0.99'], { error: 'unexpected_answer' }],
    [dbl, ['127.0.1.2'], { listed: true, reasons: ['spam'] }],
    [dbl, ['127.0.1.102'], { listed: true, reasons: ['abused_spam'] }],
    [dbl, ['127.0.1.255'], { error: 'ip_query' }],
    [dbl, ['127.0.0.2'], { error: 'unexpected_answer' }],
    // Bitmask lists: every set bit must be documented; 127.0.0.1 is SURBL's "query blocked".
    [surbl, ['127.0.0.8'], { listed: true, reasons: ['phish'] }],
    [surbl, ['127.0.0.80'], { listed: true, reasons: ['abuse', 'malware'] }],
    [surbl, ['127.0.0.1'], { error: 'refused_by_list' }],
    [surbl, ['127.0.0.2'], { error: 'unexpected_answer' }],
    [surbl, ['127.0.0.0'], { error: 'unexpected_answer' }],
    [BUILTIN_LISTS.uribl, ['127.0.0.14'], { listed: true, reasons: ['black', 'grey', 'red'] }],
    [BUILTIN_LISTS.mailspike, ['127.0.0.12'], { listed: true, reasons: ['poor_reputation'] }],
  ])('%#: %j', (list, addresses, verdict) => {
    expect(interpretAnswer(list, addresses)).toEqual(verdict);
  });
});

describe('lists file', () => {
  test('defines lists, with codes, bits and error codes', () => {
    expect(parseListsFile({ mylist: { zone: 'BL.Example.net', kind: 'ip', tier: 'minor', codes: { '127.0.0.2': 'listed' }, rate: 5 } })).toEqual([
      { name: 'mylist', zone: 'bl.example.net', kind: 'ip', tier: 'minor', codes: { '127.0.0.2': 'listed' }, bits: undefined, errors: undefined, rate: 5 },
    ]);
  });

  test.each([
    [[], /map of list name/],
    [{ 'Bad Name': {} }, /name must be/],
    [{ a: { zone: 'x y', kind: 'ip', tier: 'minor', codes: { '127.0.0.2': 'l' } } }, /zone must be a DNS name/],
    [{ a: { zone: 'bl.test', kind: 'asn', tier: 'minor', codes: { '127.0.0.2': 'l' } } }, /kind must be ip or domain/],
    [{ a: { zone: 'bl.test', kind: 'ip', tier: 'huge', codes: { '127.0.0.2': 'l' } } }, /tier must be major or minor/],
    [{ a: { zone: 'bl.test', kind: 'ip', tier: 'minor' } }, /needs codes/],
    [{ a: { zone: 'bl.test', kind: 'ip', tier: 'minor', codes: { '127.0.0.2': 'Listed Here' } } }, /reason "Listed Here"/],
    [{ a: { zone: 'bl.test', kind: 'ip', tier: 'minor', codes: { '127.0.0.2': 'l' }, rate: 0 } }, /rate must be above 0/],
  ])('%j is refused', (data, message) => {
    expect(() => parseListsFile(data)).toThrow(message);
  });
});

describe('records', () => {
  const rsa = (bits: number) => generateKeyPairSync('rsa', { modulusLength: bits }).publicKey.export({ type: 'spki', format: 'der' }).toString('base64');

  test('tags', () => {
    expect(parseTags('v=DMARC1; p=reject;rua=mailto:a@example.com ; ')).toEqual({ v: 'DMARC1', p: 'reject', rua: 'mailto:a@example.com' });
  });

  test('SPF: one v=spf1 record among the TXT records', () => {
    expect(pickSpf(['google-site-verification=x', 'v=spf1 mx -all'])).toEqual({ record: 'v=spf1 mx -all' });
    expect(pickSpf(['V=SPF1 -all'])).toEqual({ record: 'V=SPF1 -all' });
    expect(pickSpf(['v=spf10 -all', 'spf1'])).toEqual({ problem: 'missing' });
    expect(pickSpf(['v=spf1 -all', 'v=spf1 mx -all'])).toEqual({ problem: 'multiple' });
  });

  test('DKIM keys: size, revoked, unparsable, ed25519', () => {
    expect(parseDkimKey([`v=DKIM1; k=rsa; p=${rsa(2048)}`])).toEqual({ bits: 2048, keyType: 'rsa' });
    expect(parseDkimKey([`p=${rsa(1024)}`])).toEqual({ bits: 1024, keyType: 'rsa' });
    expect(parseDkimKey([`v=DKIM1; p=${rsa(512)}`])).toEqual({ problem: 'too_short', bits: 512, keyType: 'rsa' });
    expect(parseDkimKey(['v=DKIM1; k=rsa; p='])).toEqual({ problem: 'revoked', keyType: 'rsa' });
    expect(parseDkimKey(['v=DKIM1; k=rsa; p=bm90IGEga2V5'])).toEqual({ problem: 'unparsable', keyType: 'rsa' });
    expect(parseDkimKey(['v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo='])).toEqual({ bits: 256, keyType: 'ed25519' });
    expect(parseDkimKey(['some other text'])).toEqual({ problem: 'missing' });
    expect(parseDkimKey([])).toEqual({ problem: 'missing' });
  });

  test('DMARC: policy and rua', () => {
    expect(parseDmarc(['v=DMARC1; p=quarantine; rua=mailto:d@example.com'])).toEqual({ policy: 'quarantine', rua: true });
    expect(parseDmarc(['v=DMARC1; p=none'])).toEqual({ policy: 'none', rua: false });
    expect(parseDmarc(['v=DMARC1; p=block'])).toEqual({ problem: 'invalid', rua: false });
    expect(parseDmarc(['v=DMARC1; p=none', 'v=DMARC1; p=reject'])).toEqual({ problem: 'multiple', rua: false });
    expect(parseDmarc(['v=spf1 -all'])).toEqual({ problem: 'missing', rua: false });
  });

  test('TLS-RPT', () => {
    expect(parseTlsRpt(['v=TLSRPTv1; rua=mailto:tls@example.com'])).toEqual({});
    expect(parseTlsRpt(['v=TLSRPTv1; rua=https://report.example.com/tls'])).toEqual({});
    expect(parseTlsRpt(['v=TLSRPTv1;'])).toEqual({ problem: 'invalid' });
    expect(parseTlsRpt([])).toEqual({ problem: 'missing' });
  });
});

describe('targets', () => {
  test('a targets file: IPs with HELO names, domains with selectors, comments', () => {
    expect(parseTargetsFile('# sending IPs\n192.0.2.10 mail.example.com\n2001:db8::10\n\nexample.com s1 s2 # two selectors\nexample.org\n')).toEqual({
      ips: [
        ['192.0.2.10', 'mail.example.com'],
        ['2001:db8::10', undefined],
      ],
      domains: [
        ['example.com', ['s1', 's2']],
        ['example.org', []],
      ],
    });
    expect(() => parseTargetsFile('192.0.2.10 a.example b.example')).toThrow(/line 1: an IP line has at most a HELO name/);
    expect(() => parseTargetsFile('ok.example\nnot_a domain!')).toThrow(/line 2: not a domain name/);
  });

  test('flags and file merged; one HELO name for every IP unless an IP has its own', () => {
    const t = buildTargets({
      ips: ['192.0.2.10', '192.0.2.11'],
      domains: ['Example.com'],
      heloNames: ['mail.example.com', '192.0.2.11=mail2.example.com'],
      selectors: ['default', 'example.net:s2024'],
      file: '198.51.100.1 out.example.org\n',
    });
    expect(t.ips).toEqual(['192.0.2.10', '192.0.2.11', '198.51.100.1']);
    expect(t.domains).toEqual(['example.com', 'example.net']);
    expect(Object.fromEntries(t.helo)).toEqual({ '192.0.2.10': 'mail.example.com', '192.0.2.11': 'mail2.example.com', '198.51.100.1': 'out.example.org' });
    expect(Object.fromEntries(t.selectors)).toEqual({ 'example.com': ['default'], 'example.net': ['s2024', 'default'] });
  });
});

test('query failures map to bounded reasons', () => {
  const err = (code: string) => Object.assign(new Error(code), { code });
  expect(['ETIMEOUT', 'ESERVFAIL', 'EREFUSED', 'ECONNREFUSED', 'EBADRESP', 'EWHATEVER'].map((c) => queryErrorReason(err(c)))).toEqual([
    'timeout',
    'servfail',
    'refused',
    'unreachable',
    'bad_answer',
    'other',
  ]);
});

test('the rate limiter spaces calls at least 1/rate apart', async () => {
  const limiter = new RateLimiter(20);
  const started = Date.now();
  for (let i = 0; i < 5; i++) await limiter.take();
  // 5 calls at 20 per second: the last one no earlier than 4 * 50 ms after the first (a busy machine only adds).
  expect(Date.now() - started).toBeGreaterThanOrEqual(195);
});

describe('TLSA over raw DNS (node:dns of Node 20 has none)', () => {
  /** A reply as a resolver sends it: the query's header and question, then `answers`. */
  function reply(id: number, flags: number, answers: Buffer[]): Buffer {
    const query = encodeTlsaQuery(id, '_25._tcp.mx.example.com');
    const questionEnd = query.length - 11; // without the OPT record
    const header = Buffer.from(query.subarray(0, 12));
    header.writeUInt16BE(flags, 2);
    header.writeUInt16BE(answers.length, 6);
    header.writeUInt16BE(0, 10);
    return Buffer.concat([header, query.subarray(12, questionEnd), ...answers]);
  }
  function tlsaAnswer(usage: number, selector: number, mtype: number, data: Buffer): Buffer {
    const head = Buffer.from([0xc0, 0x0c, 0, 52, 0, 1, 0, 0, 1, 44, 0, 0]);
    head.writeUInt16BE(3 + data.length, 10);
    return Buffer.concat([head, Buffer.from([usage, selector, mtype]), data]);
  }
  const digest = Buffer.alloc(32, 0xab);

  test('the query asks for TLSA with AD and EDNS0', () => {
    const q = encodeTlsaQuery(0x1234, 'a.example');
    expect(q.readUInt16BE(0)).toBe(0x1234);
    expect(q.readUInt16BE(2)).toBe(0x0120);
    expect(q.subarray(12, 23)).toEqual(Buffer.from([1, 0x61, 7, ...Buffer.from('example'), 0]));
    expect(q.readUInt16BE(23)).toBe(52);
  });

  test('answers, validation flag, rcodes', () => {
    const ok = decodeTlsaReply(reply(7, 0x81a0, [tlsaAnswer(3, 1, 1, digest)]), 7);
    expect(ok.authenticated).toBe(true);
    expect(ok.records).toEqual([{ usage: 3, selector: 1, mtype: 1, data: digest }]);
    expect(usableTlsa(ok.records[0])).toBe(true);
    expect(decodeTlsaReply(reply(7, 0x8180, [tlsaAnswer(3, 1, 1, digest)]), 7).authenticated).toBe(false);
    expect(usableTlsa({ usage: 1, selector: 1, mtype: 1, data: digest })).toBe(false); // PKIX-EE: not for SMTP (RFC 7672)
    expect(usableTlsa({ usage: 3, selector: 1, mtype: 2, data: digest })).toBe(false); // SHA-512 needs 64 bytes
    const code = (r: Buffer) => {
      try {
        decodeTlsaReply(r, 7);
        return 'no error';
      } catch (err) {
        return (err as NodeJS.ErrnoException).code;
      }
    };
    expect(code(reply(7, 0x8183, []))).toBe('ENOTFOUND');
    expect(code(reply(7, 0x8180, []))).toBe('ENODATA');
    expect(code(reply(7, 0x8182, []))).toBe('ESERVFAIL');
    expect(code(reply(7, 0x8185, []))).toBe('EREFUSED');
    expect(code(reply(8, 0x8180, [tlsaAnswer(3, 1, 1, digest)]))).toBe('EBADRESP');
    expect(code(reply(7, 0x8380, [tlsaAnswer(3, 1, 1, digest)]))).toBe('EBADRESP'); // truncated
  });

  test('a reply cut anywhere, or with a name that never ends, is EBADRESP: no crash, no endless loop', () => {
    const full = reply(7, 0x81a0, [tlsaAnswer(3, 1, 1, digest)]);
    for (let n = 0; n < full.length; n++) {
      let code: string | undefined;
      try {
        decodeTlsaReply(full.subarray(0, n), 7);
      } catch (err) {
        code = (err as NodeJS.ErrnoException).code;
      }
      expect([n, code]).toEqual([n, n < 12 ? 'EBADRESP' : expect.stringMatching(/^(EBADRESP|ENODATA)$/)]);
    }
    const endless = Buffer.concat([full.subarray(0, 12), Buffer.alloc(300, 1)]);
    expect(() => decodeTlsaReply(endless, 7)).toThrow(/bad DNS reply/);
  });
});
