/**
 * The report parsers on literal inputs: DMARC aggregate XML (RFC 7489 appendix C and the big reporters' shapes),
 * TLS-RPT JSON (RFC 8460 section 4.4), their compressed forms, report mails of several MIME shapes, and hostile
 * inputs (entity expansion, zip and gzip bombs, a 100 MB XML, broken archives) that must be refused with a reason.
 */
import { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { decodeReport, type DecodeOptions } from '../../exporters/reports/decode';
import type { DmarcReport } from '../../exporters/reports/dmarc';
import { reportsInMail } from '../../exporters/reports/mail';
import { ownNetworks } from '../../exporters/reports/networks';
import { ReportError, reporterName, type Report } from '../../exporters/reports/report';
import { parseTlsRpt, type TlsRptReport } from '../../exporters/reports/tlsrpt';
import { googleDmarc, gzip, mail, microsoftDmarc, prefixedDmarc, streamedZip, tlsrpt, yesterday, zip } from './fixtures';

const classify = ownNetworks(['192.0.2.0/24', '2001:db8::/64']);
const opts: DecodeOptions = { maxReportBytes: 10 * 1024 * 1024, maxJsonBytes: 1024 * 1024, classify };

/** Bytes in small chunks, so every parser sees values and tags split across chunk boundaries. */
async function* chunked(data: Buffer | string, size = 13): AsyncGenerator<Buffer> {
  const b = Buffer.from(data);
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

const decode = (data: Buffer | string, o: DecodeOptions = opts) => decodeReport(chunked(data), o);
async function refused(data: Buffer | string | AsyncIterable<Buffer>, o: DecodeOptions = opts): Promise<ReportError> {
  const input = typeof data === 'string' || Buffer.isBuffer(data) ? chunked(data) : data;
  const outcome = await decodeReport(input, o).catch((e: unknown) => e);
  if (!(outcome instanceof ReportError)) throw new Error(`expected a refusal, got ${JSON.stringify(outcome)}`);
  return outcome;
}

/** The RFC 7489 appendix C example, trimmed to what the format requires. */
const RFC7489 = `<?xml version="1.0" encoding="UTF-8" ?>
<feedback>
  <report_metadata>
    <org_name>acme.com</org_name>
    <email>noreply-dmarc-support@acme.com</email>
    <extra_contact_info>http://acme.com/dmarc/support</extra_contact_info>
    <report_id>9391651994964116463</report_id>
    <date_range>
      <begin>1335571200</begin>
      <end>1335657599</end>
    </date_range>
  </report_metadata>
  <policy_published>
    <domain>example.com</domain>
    <adkim>r</adkim>
    <aspf>r</aspf>
    <p>none</p>
    <sp>none</sp>
    <pct>100</pct>
  </policy_published>
  <record>
    <row>
      <source_ip>72.150.241.94</source_ip>
      <count>2</count>
      <policy_evaluated>
        <disposition>none</disposition>
        <dkim>fail</dkim>
        <spf>pass</spf>
      </policy_evaluated>
    </row>
    <identifiers>
      <header_from>example.com</header_from>
    </identifiers>
    <auth_results>
      <dkim>
        <domain>example.com</domain>
        <result>fail</result>
        <human_result></human_result>
      </dkim>
      <spf>
        <domain>example.com</domain>
        <result>pass</result>
      </spf>
    </auth_results>
  </record>
</feedback>`;

/** The RFC 8460 section 4.4 example. */
const RFC8460 = `{
  "organization-name": "Company-X",
  "date-range": {
    "start-datetime": "2016-04-01T00:00:00Z",
    "end-datetime": "2016-04-01T23:59:59Z"
  },
  "contact-info": "sts-reporting@company-x.example",
  "report-id": "5065427c-23d3-47ca-b6e0-946ea0e8c4be",
  "policies": [{
    "policy": {
      "policy-type": "sts",
      "policy-string": ["version: STSv1","mode: testing", "mx: *.mail.company-y.example","max_age: 86400"],
      "policy-domain": "company-y.example",
      "mx-host": ["*.mail.company-y.example"]
    },
    "summary": {
      "total-successful-session-count": 5326,
      "total-failure-session-count": 303
    },
    "failure-details": [{
      "result-type": "certificate-expired",
      "sending-mta-ip": "2001:db8:abcd:0012::1",
      "receiving-mx-hostname": "mx1.mail.company-y.example",
      "failed-session-count": 100
    }, {
      "result-type": "starttls-not-supported",
      "sending-mta-ip": "2001:db8:abcd:0013::1",
      "receiving-mx-hostname": "mx2.mail.company-y.example",
      "receiving-ip": "203.0.113.56",
      "failed-session-count": 200,
      "additional-information": "https://reports.company-x.example/report_info?id=5065427c-23d3#StarttlsNotSupported"
    }, {
      "result-type": "validation-failure",
      "sending-mta-ip": "198.51.100.62",
      "receiving-ip": "203.0.113.58",
      "receiving-mx-hostname": "mx-backup.mail.company-y.example",
      "failed-session-count": 3,
      "failure-reason-code": "X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED"
    }]
  }]
}`;

const rows = (r: Report) => (r as DmarcReport).rows.map((x) => `${x.disposition}/${x.dkim}/${x.spf}/${x.source}=${x.count}`).sort();

describe('DMARC aggregate reports', () => {
  test('the RFC 7489 example', async () => {
    const r = (await decode(RFC7489)) as DmarcReport;
    expect(r).toMatchObject({ kind: 'dmarc', orgName: 'acme.com', contact: 'noreply-dmarc-support@acme.com', reportId: '9391651994964116463', begin: 1335571200, end: 1335657599, domain: 'example.com', records: 1 });
    expect(rows(r)).toEqual(['none/fail/pass/other=2']);
  });

  test('Google-shaped: several records summed by result and source, IPv4 and IPv6', async () => {
    const xml = googleDmarc({
      records: [
        { ip: '192.0.2.10', count: 10 },
        { ip: '192.0.2.11', count: 5 },
        { ip: '2001:db8::7', count: 3, dkim: 'fail' },
        { ip: '2001:db8:1::7', count: 4, dkim: 'fail', spf: 'fail', disposition: 'none' },
        { ip: '203.0.113.9', count: 7, dkim: 'fail', spf: 'fail', disposition: 'reject' },
      ],
    });
    const r = await decode(xml);
    expect(rows(r)).toEqual(['none/fail/fail/other=4', 'none/fail/pass/own=3', 'none/pass/pass/own=15', 'reject/fail/fail/other=7']);
    expect((r as DmarcReport).records).toBe(5);
  });

  test('Microsoft-shaped: xsd/xsi namespaces, CRLF, whitespace around values, gzip', async () => {
    const r = await decode(gzip(microsoftDmarc({ records: [{ ip: '2001:db8::25', count: 4, disposition: 'quarantine', dkim: 'fail', spf: 'fail' }] })));
    const { begin, end } = yesterday();
    expect(r).toMatchObject({ orgName: 'Enterprise Outlook', contact: 'dmarcreport@microsoft.com', begin, end, domain: 'example.com' });
    expect(rows(r)).toEqual(['quarantine/fail/fail/own=4']);
  });

  test('DMARCbis namespace with a prefix, a byte order mark and CDATA, in a zip as Yahoo sends it', async () => {
    const r = await decode(zip('yahoo.com!example.com!1706659200!1706745599.xml', prefixedDmarc()));
    expect(r).toMatchObject({ orgName: 'Yahoo', reportId: '1706745600.829177', domain: 'example.com' });
    expect(rows(r)).toEqual(['none/pass/pass/other=1']);
  });

  test('a zip written as a stream (data descriptor) and an empty record set', async () => {
    const r = await decode(streamedZip('google.com!example.com!1!2.xml', googleDmarc({ records: [] })));
    expect(rows(r)).toEqual([]);
    expect((r as DmarcReport).records).toBe(0);
  });

  test('values outside the allowlists become other; the domain is lower-cased', async () => {
    const r = await decode(googleDmarc({ domain: 'Example.COM', records: [{ ip: '192.0.2.1', count: 1, disposition: 'discard', dkim: 'temperror', spf: 'softfail' }] }));
    expect((r as DmarcReport).domain).toBe('example.com');
    expect(rows(r)).toEqual(['other/other/other/own=1']);
  });

  test.each([
    ['no report_id', googleDmarc().replace(/<report_id>.*<\/report_id>/, ''), /report_id/],
    ['a count that is not a number', googleDmarc({ records: [{ ip: '192.0.2.1', count: -1 }] }), /count/],
    ['a source that is not an IP', googleDmarc({ records: [{ ip: 'mail.example.com', count: 1 }] }), /source_ip/],
    ['another root element', '<report><x/></report>', /root element/],
    ['cut short', googleDmarc().slice(0, 400), /not well-formed/],
    ['no policy domain', googleDmarc().replace(/<domain>example.com<\/domain>\n    <adkim>/, '<adkim>'), /policy_published/],
  ])('malformed: %s', async (_name, xml, message) => {
    const err = await refused(xml);
    expect(err.reason).toBe('malformed');
    expect(err.message).toMatch(message);
  });

  test('entity expansion ("billion laughs") is refused, never expanded', async () => {
    const lol = `<?xml version="1.0"?>
<!DOCTYPE feedback [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<feedback><report_metadata><org_name>&lol9;</org_name></report_metadata></feedback>`;
    expect((await refused(lol)).message).toMatch(/DOCTYPE/);
    // Without the DTD the reference is just an unknown entity.
    expect((await refused('<feedback><report_metadata><org_name>&lol9;</org_name></report_metadata></feedback>')).reason).toBe('malformed');
    // External entities cannot be declared either.
    expect((await refused('<?xml version="1.0"?><!DOCTYPE f [<!ENTITY x SYSTEM "file:///etc/passwd">]><feedback>&x;</feedback>')).message).toMatch(/DOCTYPE/);
  });
});

describe('TLS-RPT reports', () => {
  test('the RFC 8460 example', () => {
    const r = parseTlsRpt(RFC8460);
    expect(r).toMatchObject({ kind: 'tlsrpt', orgName: 'Company-X', contact: 'sts-reporting@company-x.example', reportId: '5065427c-23d3-47ca-b6e0-946ea0e8c4be', begin: 1459468800, end: 1459555199 });
    expect(r.policies).toHaveLength(1);
    expect(r.policies[0]).toMatchObject({ policyType: 'sts', domain: 'company-y.example', successful: 5326, failed: 303 });
    expect([...r.policies[0].failures]).toEqual([
      ['certificate-expired', 100],
      ['starttls-not-supported', 200],
      ['validation-failure', 3],
    ]);
  });

  test('Google-shaped, gzip: no-policy-found and tlsa policies, no failure details, unknown result types are other', async () => {
    const json = tlsrpt({
      policies: [
        { type: 'no-policy-found', ok: 40, failed: 0 },
        { type: 'tlsa', domain: 'Example.com', ok: 10, failed: 2, failures: [{ type: 'tlsa-invalid', count: 1 }, { type: 'made-up', count: 1 }] },
        { type: 'sts', ok: 1, failed: 0 },
        { type: 'sts', ok: 2, failed: 0 },
      ],
    });
    const r = (await decode(gzip(json))) as TlsRptReport;
    expect(r.kind).toBe('tlsrpt');
    const byType = Object.fromEntries(r.policies.map((p) => [p.policyType, p]));
    expect(byType['no-policy-found']).toMatchObject({ successful: 40, failed: 0 });
    expect(byType.sts).toMatchObject({ successful: 3 }); // the same policy twice is summed
    expect(byType.tlsa.domain).toBe('example.com');
    expect([...byType.tlsa.failures]).toEqual([['tlsa-invalid', 1], ['other', 1]]);
  });

  test.each([
    ['not JSON', '{"policies": [', /not JSON/],
    ['no report-id', JSON.stringify({ ...JSON.parse(RFC8460), 'report-id': undefined }), /report-id/],
    ['a negative count', RFC8460.replace('5326', '-5'), /total-successful-session-count/],
    ['no date range', JSON.stringify({ ...JSON.parse(RFC8460), 'date-range': undefined }), /date-range/],
    ['a date that is not one', RFC8460.replace('2016-04-01T00:00:00Z', 'yesterday'), /start-datetime/],
  ])('malformed: %s', async (_name, json, message) => {
    const err = await refused(json);
    expect(err).toMatchObject({ reason: 'malformed' });
    expect(err.message).toMatch(message);
  });

  test('JSON beyond --reports.max-json-bytes is oversized', async () => {
    const big = tlsrpt({ policies: Array.from({ length: 2000 }, () => ({ ok: 1, failed: 0 })) });
    expect(await refused(big, { ...opts, maxJsonBytes: 64 * 1024 })).toMatchObject({ reason: 'oversized', kind: 'tlsrpt' });
  });
});

describe('hostile and broken inputs', () => {
  test('a gzip bomb stops at --reports.max-report-bytes', async () => {
    const bomb = gzip(Buffer.alloc(16 * 1024 * 1024, ' '));
    expect(bomb.length).toBeLessThan(32 * 1024);
    expect(await refused(bomb, { ...opts, maxReportBytes: 1024 * 1024 })).toMatchObject({ reason: 'zip_bomb' });
  });

  test('a zip bomb stops at --reports.max-report-bytes', async () => {
    const bomb = zip('report.xml', Buffer.alloc(8 * 1024 * 1024, ' '));
    expect(await refused(bomb, { ...opts, maxReportBytes: 1024 * 1024 })).toMatchObject({ reason: 'zip_bomb' });
  });

  test('a plain report beyond the limit is oversized', async () => {
    expect(await refused(googleDmarc(), { ...opts, maxReportBytes: 200 })).toMatchObject({ reason: 'oversized' });
  });

  test.each([
    ['text that is no report', Buffer.from('Hello, this is not a report')],
    ['an empty file', Buffer.alloc(0)],
    ['a truncated gzip', gzip(googleDmarc()).subarray(0, 60)],
    ['a truncated zip', zip('r.xml', googleDmarc()).subarray(0, 80)],
    ['a zip without a report in it', zip('logo.png', Buffer.alloc(100, 1))],
    ['a PDF', Buffer.from('%PDF-1.4\n...')],
  ])('malformed: %s', async (_name, data) => {
    expect((await refused(data)).reason).toBe('malformed');
  });

  // Live memory is what is measured: garbage is collected before each reading.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const liveHeap = () => {
    gc();
    return process.memoryUsage().heapUsed;
  };

  /** An aggregate report of about `mb` MB, generated as it is read: the test itself never holds it. */
  function bigReport(mb: number): { chunks: AsyncGenerator<Buffer>; records: number; pulled(): number; peakHeap(): number } {
    const record = `<record><row><source_ip>192.0.2.1</source_ip><count>1</count><policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated></row><identifiers><header_from>example.com</header_from></identifiers></record>\n`;
    const [head, tail] = googleDmarc({ records: [] }).split('</feedback>');
    const perChunk = Math.floor((256 * 1024) / record.length);
    const chunk = Buffer.from(record.repeat(perChunk));
    const n = Math.ceil((mb * 1024 * 1024) / chunk.length);
    let pulled = 0;
    let peak = 0;
    async function* chunks(): AsyncGenerator<Buffer> {
      yield Buffer.from(head);
      for (let i = 0; i < n; i++) {
        if (i % 16 === 8) peak = Math.max(peak, liveHeap());
        pulled += chunk.length;
        yield chunk;
      }
      yield Buffer.from('</feedback>' + tail);
    }
    return { chunks: chunks(), records: n * perChunk, pulled: () => pulled, peakHeap: () => peak };
  }

  test('a 16 MB aggregate report streams through in bounded memory', async () => {
    const big = bigReport(16);
    const before = liveHeap();
    const r = (await decodeReport(big.chunks, { ...opts, maxReportBytes: 64 * 1024 * 1024 })) as DmarcReport;
    expect(r.records).toBe(big.records);
    expect(rows(r)).toEqual([`none/pass/pass/own=${big.records}`]);
    // The live heap never holds more than a few chunks of the report's 16 MB.
    expect(big.peakHeap() - before).toBeLessThan(8 * 1024 * 1024);
  }, 60_000);

  test('a 100 MB XML is refused at --reports.max-report-bytes and read no further', async () => {
    const big = bigReport(100);
    const before = liveHeap();
    expect(await refused(big.chunks, { ...opts, maxReportBytes: 4 * 1024 * 1024 })).toMatchObject({ reason: 'oversized' });
    expect(big.pulled()).toBeLessThan(5 * 1024 * 1024);
    expect(big.peakHeap() - before).toBeLessThan(8 * 1024 * 1024);
  }, 60_000);
});

describe('report mails', () => {
  const outcomes = async (raw: Buffer) => reportsInMail(Readable.from(chunked(raw, 1000)), opts);

  test('multipart/mixed with a text part and a zip (Google)', async () => {
    const raw = await mail({ attachments: [{ filename: 'google.com!example.com!1706659200!1706745599.zip', contentType: 'application/zip', content: zip('google.com!example.com!1706659200!1706745599.xml', googleDmarc()) }] });
    const out = await outcomes(raw);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ kind: 'dmarc', reportId: '5717107811868587391' });
  });

  test('a single-part application/gzip message (Microsoft)', async () => {
    const raw = await mail({ singlePart: { contentType: 'application/gzip', filename: 'enterprise.protection.outlook.com!example.com!1!2.xml.gz', content: gzip(microsoftDmarc()) } });
    const out = await outcomes(raw);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ kind: 'dmarc', orgName: 'Enterprise Outlook' });
  });

  test('a single-part text/xml body without a file name', async () => {
    const out = await outcomes(await mail({ singlePart: { contentType: 'text/xml', content: Buffer.from(RFC7489) } }));
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ kind: 'dmarc', reportId: '9391651994964116463' });
  });

  test('multipart/report; report-type=tlsrpt with application/tlsrpt+gzip (RFC 8460 section 5.3)', async () => {
    const out = await outcomes(await mail({ tlsrptReport: gzip(RFC8460) }));
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ kind: 'tlsrpt', reportId: '5065427c-23d3-47ca-b6e0-946ea0e8c4be' });
  });

  test('several reports in one mail, a logo beside them, and a broken one: each its own outcome', async () => {
    const raw = await mail({
      attachments: [
        { filename: 'logo.png', contentType: 'image/png', content: Buffer.alloc(3000, 7) },
        { filename: 'a.xml', contentType: 'text/xml', content: googleDmarc({ id: 'a' }) },
        { filename: 'b.xml.gz', contentType: 'application/gzip', content: gzip(googleDmarc({ id: 'b' })) },
        { filename: 'bomb.zip', contentType: 'application/zip', content: zip('x.xml', Buffer.alloc(8 * 1024 * 1024, ' ')) },
      ],
    });
    const out = await reportsInMail(Readable.from(chunked(raw, 4096)), { ...opts, maxReportBytes: 1024 * 1024 });
    expect(out.map((o) => (o instanceof ReportError ? o.reason : (o as DmarcReport).reportId))).toEqual(['a', 'b', 'zip_bomb']);
  });

  test('a mail with no report has no outcome', async () => {
    expect(await outcomes(await mail({ text: 'Please unsubscribe me' }))).toEqual([]);
  });
});

describe('labels and sources', () => {
  test.each([
    ['noreply-dmarc-support@google.com', 'google.com', 'google.com'],
    ['dmarcreport@microsoft.com', 'Enterprise Outlook', 'microsoft.com'],
    ['smtp-tls-reporting@google.com', 'Google Inc.', 'google.com'],
    ['mailto:tlsrpt@Mail.Example.org', 'x', 'mail.example.org'],
    ['https://reports.example.net/tls', 'x', 'reports.example.net'],
    ['', 'Yahoo! Inc.', 'yahoo-inc'],
    ['', '', 'unknown'],
  ])('reporterName(%j, %j) = %j', (contact, org, name) => {
    expect(reporterName(contact, org)).toBe(name);
  });

  test('own networks: IPv4 and IPv6 nets and hosts, IPv4-mapped addresses', () => {
    const own = ownNetworks(['203.0.113.0/24', '2001:db8:5::/48', '198.51.100.7']);
    expect(['203.0.113.200', '2001:db8:5:1::1', '198.51.100.7', '::ffff:203.0.113.1'].map(own)).toEqual(['own', 'own', 'own', 'own']);
    expect(['203.0.114.1', '2001:db8:6::1', '198.51.100.8', 'not-an-ip'].map(own)).toEqual(['other', 'other', 'other', 'other']);
    expect(() => ownNetworks(['203.0.113.0/33'])).toThrow(/203.0.113.0\/33/);
    expect(() => ownNetworks(['mail.example.com'])).toThrow(/mail.example.com/);
  });
});
