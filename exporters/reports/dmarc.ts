/**
 * DMARC aggregate reports (RFC 7489 appendix C, and the DMARCbis `urn:ietf:params:xml:ns:dmarc-2.0` shape),
 * parsed as a stream with sax: records are summed into a map keyed by bounded values as they pass, so memory
 * does not grow with the report. Namespaces and prefixes are ignored (only local names count), text is trimmed.
 * A DOCTYPE is refused outright and sax never expands entities other than the five XML ones, so entity
 * expansion ("billion laughs", external entities) cannot happen.
 */
import { isIP } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import sax from 'sax';
import { ReportError, type Source } from './report';

export interface DmarcRow {
  disposition: string;
  dkim: string;
  spf: string;
  source: Source;
  count: number;
}

export interface DmarcReport {
  kind: 'dmarc';
  orgName: string;
  /** report_metadata/email: the reporter's address (an organisation's, not a person's). */
  contact: string;
  reportId: string;
  /** date_range, Unix seconds. */
  begin: number;
  end: number;
  /** policy_published/domain: our domain the report is about. */
  domain: string;
  /** Messages summed by disposition, DKIM and SPF (policy_evaluated) and source. */
  rows: DmarcRow[];
  records: number;
}

const DISPOSITIONS = new Set(['none', 'quarantine', 'reject']);
const RESULTS = new Set(['pass', 'fail']);
/** Longer field text is cut: no field of a report needs more, and a hostile one cannot grow it. */
const MAX_FIELD = 1024;

const bounded = (value: string, allowed: Set<string>): string => {
  const v = value.toLowerCase();
  if (v === '') return 'none';
  return allowed.has(v) ? v : 'other';
};

function integer(text: string, field: string): number {
  if (!/^\d{1,15}$/.test(text)) throw new ReportError('malformed', 'dmarc', `${field} is not a whole number: ${JSON.stringify(text.slice(0, 40))}`);
  return Number(text);
}

export class DmarcParser {
  private readonly parser: sax.SAXParser;
  private readonly decoder = new StringDecoder('utf8');
  /** Open elements as paths: 'feedback', 'feedback/record', ... */
  private readonly path: string[] = [];
  private text = '';
  private error: ReportError | undefined;
  private root = '';
  private readonly meta = { org_name: '', email: '', report_id: '', begin: '', end: '', domain: '' };
  private row = { source_ip: '', count: '', disposition: '', dkim: '', spf: '' };
  private readonly sums = new Map<string, DmarcRow>();
  private records = 0;

  constructor(private readonly classify: (ip: string) => Source) {
    this.parser = sax.parser(true, { trim: false, normalize: false, xmlns: false, position: false });
    this.parser.onerror = (err) => {
      this.error ??= new ReportError('malformed', 'dmarc', `not well-formed XML: ${err.message.split('\n')[0]}`);
    };
    this.parser.ondoctype = () => {
      this.error ??= new ReportError('malformed', 'dmarc', 'a DOCTYPE is not allowed in a report');
    };
    this.parser.onopentag = (tag) => {
      const name = localName(tag.name);
      const parent = this.path[this.path.length - 1];
      if (parent === undefined) this.root = name;
      const path = parent === undefined ? name : `${parent}/${name}`;
      this.path.push(path);
      this.text = '';
      if (path === 'feedback/record') this.row = { source_ip: '', count: '', disposition: '', dkim: '', spf: '' };
    };
    this.parser.ontext = (t) => this.addText(t);
    this.parser.oncdata = (t) => this.addText(t);
    this.parser.onclosetag = () => {
      this.close(this.text.length ? this.text.trim() : '');
      this.path.pop();
      this.text = '';
    };
  }

  /** Feeds bytes (UTF-8); throws the first error found. */
  write(chunk: Buffer): void {
    this.check();
    this.parser.write(this.decoder.write(chunk));
    this.check();
  }

  end(): DmarcReport {
    this.check();
    this.parser.write(this.decoder.end());
    this.parser.close();
    this.check();
    const m = this.meta;
    if (this.root !== 'feedback') throw new ReportError('malformed', 'dmarc', `root element is <${this.root}>, not <feedback>`);
    if (!m.report_id) throw new ReportError('malformed', 'dmarc', 'report_metadata has no report_id');
    if (!m.org_name && !m.email) throw new ReportError('malformed', 'dmarc', 'report_metadata has neither org_name nor email');
    if (!m.domain) throw new ReportError('malformed', 'dmarc', 'policy_published has no domain');
    const begin = integer(m.begin, 'date_range/begin');
    const end = integer(m.end, 'date_range/end');
    return {
      kind: 'dmarc',
      orgName: m.org_name,
      contact: m.email,
      reportId: m.report_id,
      begin,
      end,
      domain: m.domain.toLowerCase(),
      rows: [...this.sums.values()],
      records: this.records,
    };
  }

  private check(): void {
    if (this.error) throw this.error;
  }

  private addText(t: string): void {
    if (this.text.length < MAX_FIELD) this.text += t.slice(0, MAX_FIELD - this.text.length);
  }

  private close(text: string): void {
    const m = this.meta;
    switch (this.path[this.path.length - 1]) {
      case 'feedback/report_metadata/org_name':
        return void (m.org_name = text);
      case 'feedback/report_metadata/email':
        return void (m.email = text);
      case 'feedback/report_metadata/report_id':
        return void (m.report_id = text);
      case 'feedback/report_metadata/date_range/begin':
        return void (m.begin = text);
      case 'feedback/report_metadata/date_range/end':
        return void (m.end = text);
      case 'feedback/policy_published/domain':
        return void (m.domain = text);
      case 'feedback/record/row/source_ip':
        return void (this.row.source_ip = text);
      case 'feedback/record/row/count':
        return void (this.row.count = text);
      case 'feedback/record/row/policy_evaluated/disposition':
        return void (this.row.disposition = text);
      case 'feedback/record/row/policy_evaluated/dkim':
        return void (this.row.dkim = text);
      case 'feedback/record/row/policy_evaluated/spf':
        return void (this.row.spf = text);
      case 'feedback/record':
        return this.closeRecord();
    }
  }

  private closeRecord(): void {
    const r = this.row;
    try {
      const count = integer(r.count, 'record/row/count');
      if (!isIP(r.source_ip)) throw new ReportError('malformed', 'dmarc', `record/row/source_ip is not an IP address`);
      const row: DmarcRow = {
        disposition: bounded(r.disposition, DISPOSITIONS),
        dkim: bounded(r.dkim, RESULTS),
        spf: bounded(r.spf, RESULTS),
        source: this.classify(r.source_ip),
        count,
      };
      const key = `${row.disposition}|${row.dkim}|${row.spf}|${row.source}`;
      const sum = this.sums.get(key);
      if (sum) sum.count += count;
      else this.sums.set(key, row);
      this.records++;
    } catch (err) {
      this.error ??= err as ReportError;
    }
  }
}

/** `dmarc:feedback` and `feedback` are the same element: namespaces differ between reporters, names do not. */
function localName(name: string): string {
  const i = name.indexOf(':');
  return (i >= 0 ? name.slice(i + 1) : name).toLowerCase();
}
