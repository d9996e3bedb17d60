/** What every part of the reports exporter shares: report kinds, why a report was refused, who sent it. */
import type { DmarcReport } from './dmarc';
import type { TlsRptReport } from './tlsrpt';

export type Kind = 'dmarc' | 'tlsrpt';
/** `unknown`: an attachment refused before its kind could be told. */
export const KINDS = ['dmarc', 'tlsrpt', 'unknown'] as const;
export type Source = 'own' | 'other';
export type Report = DmarcReport | TlsRptReport;

/** Why an attachment or file was not counted; each is a value of `reports_processed_total{result}`. */
export type Refusal = 'malformed' | 'oversized' | 'zip_bomb';
export const REFUSALS: Refusal[] = ['malformed', 'oversized', 'zip_bomb'];

export class ReportError extends Error {
  constructor(
    readonly reason: Refusal,
    readonly kind: Kind | 'unknown',
    message: string,
  ) {
    super(message);
  }
}

/**
 * The reporter's name as a label candidate: the domain of its contact address (`noreply-dmarc-support@google.com`
 * and `smtp-tls-reporting@google.com` are both `google.com`) or of a contact URL, else its organisation name
 * made label-safe. Only the organisation's address is read, never a person's.
 */
export function reporterName(contact: string, orgName: string): string {
  const c = contact.trim().toLowerCase();
  const at = /@([a-z0-9-]+(?:\.[a-z0-9-]+)+)/.exec(c);
  if (at) return at[1];
  const url = /^[a-z][a-z0-9+.-]*:\/\/([a-z0-9-]+(?:\.[a-z0-9-]+)+)/.exec(c);
  if (url) return url[1];
  const slug = orgName.toLowerCase().replace(/[^a-z0-9.-]+/g, '-').replace(/^[-.]+|[-.]+$/g, '').slice(0, 64);
  return slug || 'unknown';
}
