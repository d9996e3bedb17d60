/**
 * Reports and report mails as reporters send them. The DMARC ones follow RFC 7489 appendix C and the shapes of
 * the big reporters' aggregate reports (Google: plain <feedback>, zip; Microsoft "Enterprise Outlook": xsd/xsi
 * namespaces, indented, gzip; Yahoo: <version>, zip; DMARCbis: the dmarc-2.0 namespace, here with a prefix);
 * the TLS-RPT ones follow RFC 8460 section 4.4 and Google's and Microsoft's reports (gzip, multipart/report).
 */
import { gzipSync } from 'node:zlib';
import { Zip, ZipDeflate, zipSync } from 'fflate';
import MailComposer from 'nodemailer/lib/mail-composer';

export interface Rec {
  ip: string;
  count: number;
  disposition?: string;
  dkim?: string;
  spf?: string;
}

export interface DmarcOptions {
  org?: string;
  email?: string;
  id?: string;
  domain?: string;
  begin?: number;
  end?: number;
  records?: Rec[];
}

const DAY = 86400;
/** Yesterday (UTC), as reports cover it. */
export function yesterday(): { begin: number; end: number } {
  const today = Math.floor(Date.now() / 1000 / DAY) * DAY;
  return { begin: today - DAY, end: today - 1 };
}

function record(r: Rec, indent = ''): string {
  const n = `\n${indent}`;
  return (
    `${n}<record>${n}  <row>${n}    <source_ip>${r.ip}</source_ip>${n}    <count>${r.count}</count>` +
    `${n}    <policy_evaluated>${n}      <disposition>${r.disposition ?? 'none'}</disposition>${n}      <dkim>${r.dkim ?? 'pass'}</dkim>${n}      <spf>${r.spf ?? 'pass'}</spf>${n}    </policy_evaluated>${n}  </row>` +
    `${n}  <identifiers>${n}    <header_from>example.com</header_from>${n}  </identifiers>` +
    `${n}  <auth_results>${n}    <dkim>${n}      <domain>example.com</domain>${n}      <result>${r.dkim ?? 'pass'}</result>${n}      <selector>s1</selector>${n}    </dkim>${n}    <spf>${n}      <domain>example.com</domain>${n}      <result>${r.spf ?? 'pass'}</result>${n}    </spf>${n}  </auth_results>${n}</record>`
  );
}

/** Google's shape: no namespace, no indentation to speak of. */
export function googleDmarc(o: DmarcOptions = {}): string {
  const { begin, end } = { ...yesterday(), ...o };
  return (
    `<?xml version="1.0" encoding="UTF-8" ?>\n<feedback>\n  <report_metadata>\n    <org_name>${o.org ?? 'google.com'}</org_name>\n    <email>${o.email ?? 'noreply-dmarc-support@google.com'}</email>\n` +
    `    <extra_contact_info>https://support.google.com/a/answer/2466580</extra_contact_info>\n    <report_id>${o.id ?? '5717107811868587391'}</report_id>\n` +
    `    <date_range>\n      <begin>${begin}</begin>\n      <end>${end}</end>\n    </date_range>\n  </report_metadata>\n` +
    `  <policy_published>\n    <domain>${o.domain ?? 'example.com'}</domain>\n    <adkim>r</adkim>\n    <aspf>r</aspf>\n    <p>none</p>\n    <sp>none</sp>\n    <pct>100</pct>\n    <np>none</np>\n  </policy_published>` +
    (o.records ?? [{ ip: '192.0.2.10', count: 2 }]).map((r) => record(r, '  ')).join('') +
    '\n</feedback>\n'
  );
}

/** Microsoft's shape: xsd/xsi namespace declarations, CRLF, <version>, ids in hex, extra whitespace in values. */
export function microsoftDmarc(o: DmarcOptions = {}): string {
  const { begin, end } = { ...yesterday(), ...o };
  const body =
    `<?xml version="1.0"?>\n<feedback xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n  <version>1.0</version>\n` +
    `  <report_metadata>\n    <org_name>Enterprise Outlook</org_name>\n    <email>${o.email ?? 'dmarcreport@microsoft.com'}</email>\n    <report_id>${o.id ?? 'e5a8c7d1b2f34c6a9d0e1f2a3b4c5d6e'}</report_id>\n` +
    `    <date_range>\n      <begin> ${begin} </begin>\n      <end>\n        ${end}\n      </end>\n    </date_range>\n  </report_metadata>\n` +
    `  <policy_published>\n    <domain>${o.domain ?? 'example.com'}</domain>\n    <adkim>r</adkim>\n    <aspf>r</aspf>\n    <p>quarantine</p>\n    <sp>quarantine</sp>\n    <pct>100</pct>\n    <fo>0</fo>\n  </policy_published>` +
    (o.records ?? [{ ip: '2001:db8::25', count: 4 }]).map((r) => record(r, '  ')).join('') +
    '\n</feedback>';
  return body.replace(/\n/g, '\r\n');
}

/** DMARCbis (draft-ietf-dmarc-aggregate-reporting): the dmarc-2.0 namespace, here bound to a prefix. */
export function prefixedDmarc(o: DmarcOptions = {}): string {
  const { begin, end } = { ...yesterday(), ...o };
  const rec = (r: Rec) =>
    `<d:record><d:row><d:source_ip>${r.ip}</d:source_ip><d:count>${r.count}</d:count><d:policy_evaluated><d:disposition>${r.disposition ?? 'none'}</d:disposition>` +
    `<d:dkim>${r.dkim ?? 'pass'}</d:dkim><d:spf>${r.spf ?? 'pass'}</d:spf></d:policy_evaluated></d:row><d:identifiers><d:header_from>example.com</d:header_from></d:identifiers></d:record>`;
  return (
    `\ufeff<?xml version="1.0" encoding="UTF-8"?><d:feedback xmlns:d="urn:ietf:params:xml:ns:dmarc-2.0"><d:version>1.0</d:version><d:report_metadata>` +
    `<d:org_name>Yahoo</d:org_name><d:email>${o.email ?? 'dmarchelp@yahooinc.com'}</d:email><d:report_id><![CDATA[${o.id ?? '1706745600.829177'}]]></d:report_id>` +
    `<d:date_range><d:begin>${begin}</d:begin><d:end>${end}</d:end></d:date_range></d:report_metadata>` +
    `<d:policy_published><d:domain>${o.domain ?? 'example.com'}</d:domain><d:p>reject</d:p><d:discovery_method>treewalk</d:discovery_method></d:policy_published>` +
    (o.records ?? [{ ip: '198.51.100.7', count: 1 }]).map(rec).join('') +
    '</d:feedback>'
  );
}

export interface TlsPolicy {
  type?: string;
  domain?: string;
  ok: number;
  failed: number;
  failures?: { type: string; count: number }[];
}

/** RFC 8460 section 4.4, with Google's and Microsoft's fields. */
export function tlsrpt(o: { org?: string; contact?: string; id?: string; policies?: TlsPolicy[] } = {}): string {
  const { begin, end } = yesterday();
  return JSON.stringify({
    'organization-name': o.org ?? 'Google Inc.',
    'date-range': { 'start-datetime': new Date(begin * 1000).toISOString().replace('.000', ''), 'end-datetime': new Date(end * 1000).toISOString().replace('.000', '') },
    'contact-info': o.contact ?? 'smtp-tls-reporting@google.com',
    'report-id': o.id ?? '2024-01-31T00:00:00Z_example.com',
    policies: (o.policies ?? [{ ok: 5326, failed: 0 }]).map((p) => ({
      policy: {
        'policy-type': p.type ?? 'sts',
        'policy-string': ['version: STSv1', 'mode: enforce', 'mx: mx.example.com', 'max_age: 604800'],
        'policy-domain': p.domain ?? 'example.com',
        'mx-host': ['mx.example.com'],
      },
      summary: { 'total-successful-session-count': p.ok, 'total-failure-session-count': p.failed },
      ...(p.failures
        ? {
            'failure-details': p.failures.map((f) => ({
              'result-type': f.type,
              'sending-mta-ip': '2001:db8:abcd:12::1',
              'receiving-mx-hostname': 'mx.example.com',
              'receiving-ip': '203.0.113.56',
              'failed-session-count': f.count,
            })),
          }
        : {}),
    })),
  });
}

export const gzip = (text: string | Buffer): Buffer => gzipSync(text);
export const zip = (name: string, text: string | Buffer): Buffer => Buffer.from(zipSync({ [name]: Buffer.from(text) }));

/** A zip written as a stream (sizes in a data descriptor after the data), as some reporters' tools write it. */
export function streamedZip(name: string, text: string): Buffer {
  const parts: Uint8Array[] = [];
  const z = new Zip((err, chunk) => {
    if (err) throw err;
    parts.push(chunk);
  });
  const f = new ZipDeflate(name, { level: 6 });
  z.add(f);
  f.push(Buffer.from(text), true);
  z.end();
  return Buffer.concat(parts);
}

export interface MailOptions {
  from?: string;
  to?: string;
  subject?: string;
  text?: string;
  attachments?: { filename?: string; contentType: string; content: Buffer | string }[];
  /** A single-part message whose body is the report (some reporters send that). */
  singlePart?: { contentType: string; filename?: string; content: Buffer };
  /** multipart/report; report-type=tlsrpt (RFC 8460 section 5.3). */
  tlsrptReport?: Buffer;
}

/** A report mail as RFC 822 bytes. */
export async function mail(o: MailOptions): Promise<Buffer> {
  const base = {
    from: o.from ?? 'noreply-dmarc-support@google.com',
    to: o.to ?? 'dmarc@example.com',
    subject: o.subject ?? 'Report domain: example.com Submitter: google.com Report-ID: <5717107811868587391>',
    date: new Date(),
    messageId: `<${Math.random().toString(36).slice(2)}@reports.test>`,
  };
  if (o.singlePart) {
    const { contentType, filename, content } = o.singlePart;
    const head =
      `From: ${base.from}\r\nTo: ${base.to}\r\nSubject: ${base.subject}\r\nMessage-ID: ${base.messageId}\r\nMIME-Version: 1.0\r\n` +
      `Content-Type: ${contentType}${filename ? `; name="${filename}"` : ''}\r\nContent-Transfer-Encoding: base64\r\n` +
      (filename ? `Content-Disposition: attachment; filename="${filename}"\r\n` : '') +
      '\r\n';
    return Buffer.from(head + content.toString('base64').replace(/.{76}/g, '$&\r\n') + '\r\n');
  }
  if (o.tlsrptReport) {
    const boundary = '----=_tlsrpt_boundary';
    const text =
      `From: ${base.from}\r\nTo: ${base.to}\r\nSubject: Report Domain: example.com Submitter: google.com Report-ID: <${base.messageId.slice(1, -1)}>\r\n` +
      `Message-ID: ${base.messageId}\r\nTLS-Report-Domain: example.com\r\nTLS-Report-Submitter: google.com\r\nMIME-Version: 1.0\r\n` +
      `Content-Type: multipart/report; report-type="tlsrpt"; boundary="${boundary}"\r\n\r\n` +
      `--${boundary}\r\nContent-Type: text/plain; charset="us-ascii"\r\n\r\nThis is an aggregate TLS report from google.com\r\n` +
      `--${boundary}\r\nContent-Type: application/tlsrpt+gzip; name="google.com!example.com!1706659200!1706745599!001.json.gz"\r\n` +
      `Content-Disposition: attachment; filename="google.com!example.com!1706659200!1706745599!001.json.gz"\r\nContent-Transfer-Encoding: base64\r\n\r\n` +
      o.tlsrptReport.toString('base64').replace(/.{76}/g, '$&\r\n') +
      `\r\n--${boundary}--\r\n`;
    return Buffer.from(text);
  }
  return new MailComposer({ ...base, text: o.text ?? 'This is an aggregate report.', attachments: o.attachments ?? [] }).compile().build();
}
