/**
 * SMTP TLS reports (RFC 8460 section 4): JSON. Field names are the RFC's; reporters differ in optional fields
 * (mx-host as a string or a list, failure-details missing or empty) and in how they name themselves.
 * The JSON is read whole, so its size is capped before it is parsed (--reports.max-json-bytes).
 */
import { ReportError } from './report';

export const POLICY_TYPES = new Set(['sts', 'tlsa', 'no-policy-found']);
/** RFC 8460 section 4.3 result types; any other is `other`. */
export const RESULT_TYPES = new Set([
  'starttls-not-supported',
  'certificate-host-mismatch',
  'certificate-expired',
  'certificate-not-trusted',
  'validation-failure',
  'tlsa-invalid',
  'dnssec-invalid',
  'dane-required',
  'sts-policy-fetch-error',
  'sts-policy-invalid',
  'sts-webpki-invalid',
]);

export interface TlsRptPolicy {
  policyType: string;
  /** policy-domain: our domain the sessions went to. */
  domain: string;
  successful: number;
  failed: number;
  /** failed-session-count summed by result-type (bounded). */
  failures: Map<string, number>;
}

export interface TlsRptReport {
  kind: 'tlsrpt';
  orgName: string;
  contact: string;
  reportId: string;
  /** date-range, Unix seconds. */
  begin: number;
  end: number;
  policies: TlsRptPolicy[];
}

const fail = (message: string) => new ReportError('malformed', 'tlsrpt', message);

function str(obj: Record<string, unknown>, key: string, where: string): string {
  const v = obj[key];
  if (typeof v !== 'string' || v.trim() === '') throw fail(`${where}${key} is missing or not a string`);
  return v.trim();
}

function count(obj: Record<string, unknown>, key: string, where: string): number {
  const v = obj[key] ?? 0;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw fail(`${where}${key} is not a whole number`);
  return v;
}

function time(text: string, key: string): number {
  const ms = Date.parse(text);
  if (!Number.isFinite(ms)) throw fail(`date-range/${key} is not a date-time`);
  return Math.floor(ms / 1000);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses the JSON text of one report; a report that does not follow RFC 8460 is a `malformed` ReportError. */
export function parseTlsRpt(text: string): TlsRptReport {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw fail(`not JSON: ${(err as Error).message}`);
  }
  if (!isObject(doc)) throw fail('not a JSON object');
  const range = doc['date-range'];
  if (!isObject(range)) throw fail('date-range is missing');
  if (!Array.isArray(doc.policies)) throw fail('policies is missing or not a list');
  const byPolicy = new Map<string, TlsRptPolicy>();
  doc.policies.forEach((entry, i) => {
    const where = `policies[${i}].`;
    if (!isObject(entry) || !isObject(entry.policy) || !isObject(entry.summary)) throw fail(`${where}policy or summary is missing`);
    const rawType = str(entry.policy, 'policy-type', `${where}policy.`).toLowerCase();
    const policyType = POLICY_TYPES.has(rawType) ? rawType : 'other';
    const domain = str(entry.policy, 'policy-domain', `${where}policy.`).toLowerCase();
    const key = `${policyType}|${domain}`;
    const p = byPolicy.get(key) ?? { policyType, domain, successful: 0, failed: 0, failures: new Map<string, number>() };
    p.successful += count(entry.summary, 'total-successful-session-count', `${where}summary.`);
    p.failed += count(entry.summary, 'total-failure-session-count', `${where}summary.`);
    const details = entry['failure-details'] ?? [];
    if (!Array.isArray(details)) throw fail(`${where}failure-details is not a list`);
    details.forEach((d, j) => {
      const w = `${where}failure-details[${j}].`;
      if (!isObject(d)) throw fail(`${w.slice(0, -1)} is not an object`);
      const raw = str(d, 'result-type', w).toLowerCase();
      const type = RESULT_TYPES.has(raw) ? raw : 'other';
      p.failures.set(type, (p.failures.get(type) ?? 0) + count(d, 'failed-session-count', w));
    });
    byPolicy.set(key, p);
  });
  const orgName = typeof doc['organization-name'] === 'string' ? doc['organization-name'].trim() : '';
  const contact = typeof doc['contact-info'] === 'string' ? doc['contact-info'].trim() : '';
  if (!orgName && !contact) throw fail('neither organization-name nor contact-info is given');
  return {
    kind: 'tlsrpt',
    orgName,
    contact,
    reportId: str(doc, 'report-id', ''),
    begin: time(str(range, 'start-datetime', 'date-range/'), 'start-datetime'),
    end: time(str(range, 'end-datetime', 'date-range/'), 'end-datetime'),
    policies: [...byPolicy.values()],
  };
}
