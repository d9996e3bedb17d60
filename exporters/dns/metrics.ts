/** The dns exporter's metrics. Labels: list names, reasons and problems are bounded sets; targets, domains and selectors come from the configuration. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

const KEPT = 'A failed lookup keeps the last definite answer (for at most 3 intervals).';

export class DnsMetrics {
  readonly targets: Gauge<'kind'>;
  readonly listed: Gauge<'list' | 'target' | 'tier'>;
  readonly listingReason: Gauge<'list' | 'target' | 'reason'>;
  readonly listQueries: Counter<'list'>;
  readonly listErrors: Counter<'list' | 'reason'>;
  readonly listQueryDuration: Histogram<'list'>;
  readonly listLastSuccess: Gauge<'list' | 'target'>;
  readonly listInfo: Gauge<'list' | 'zone' | 'kind' | 'tier'>;
  readonly checkOk: Gauge<'domain' | 'check'>;
  readonly checkProblem: Gauge<'domain' | 'check' | 'problem'>;
  readonly checkDuration: Gauge<'domain' | 'check'>;
  readonly checkErrors: Counter<'check' | 'reason'>;
  readonly checkLastSuccess: Gauge<'domain' | 'check'>;
  readonly spfAuthorised: Gauge<'domain' | 'target'>;
  readonly spfLookups: Gauge<'domain'>;
  readonly dkimBits: Gauge<'domain' | 'selector'>;
  readonly dmarcPolicy: Gauge<'domain' | 'policy'>;
  readonly daneValidated: Gauge<'domain'>;
  readonly fcrdnsOk: Gauge<'target'>;
  readonly fcrdnsProblem: Gauge<'target' | 'problem'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.targets = new Gauge({ name: 'dns_targets', help: 'Own sending IPs (kind ip) and mail domains (kind domain) the exporter watches; with none it sends no query.', labelNames: ['kind'], registers });
    this.listed = new Gauge({ name: 'dns_blocklist_listed', help: `Whether the own IP or domain (target) is listed on the blocklist (1) or not (0); tier major or minor. Absent until a definite answer. ${KEPT}`, labelNames: ['list', 'target', 'tier'], registers });
    this.listingReason = new Gauge({ name: 'dns_blocklist_listing_reason', help: "The listing's meaning from the list's documented return codes (sbl, xbl, pbl, spam, phish, ...); 1 per current reason.", labelNames: ['list', 'target', 'reason'], registers });
    this.listQueries = new Counter({ name: 'dns_blocklist_queries_total', help: 'Blocklist lookups sent to the resolver (answers still cached for their TTL are not asked again).', labelNames: ['list'], registers });
    this.listErrors = new Counter({ name: 'dns_blocklist_query_errors_total', help: 'Blocklist lookups without a definite answer, by reason: timeout, servfail, refused, unreachable, bad_answer, other, unexpected_answer (a code the list does not document), or the list\'s own error codes (typing_error, public_resolver, rate_limited, ip_query, refused_by_list).', labelNames: ['list', 'reason'], registers });
    this.listQueryDuration = new Histogram({ name: 'dns_blocklist_query_duration_seconds', help: 'Time a blocklist lookup took, in seconds.', labelNames: ['list'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers });
    this.listLastSuccess = new Gauge({ name: 'dns_blocklist_last_success_timestamp_seconds', help: 'Unix time of the last definite answer (listed or not) for the target on the list.', labelNames: ['list', 'target'], registers });
    this.listInfo = new Gauge({ name: 'dns_blocklist_info', help: 'A configured blocklist: its zone (the DQS key replaced by <key>), kind (ip or domain) and tier; always 1.', labelNames: ['list', 'zone', 'kind', 'tier'], registers });
    this.checkOk = new Gauge({ name: 'dns_record_check_ok', help: `Whether the mail DNS record check (mx, spf, dkim, dmarc, mta_sts, tls_rpt, dane) of the own domain found no problem (1) or a problem (0). ${KEPT}`, labelNames: ['domain', 'check'], registers });
    this.checkProblem = new Gauge({ name: 'dns_record_check_problem', help: 'A problem the record check found (missing, multiple, invalid, too_many_lookups, ip_not_authorised, too_short, no_rua, mx_mismatch, ...); 1 per current problem.', labelNames: ['domain', 'check', 'problem'], registers });
    this.checkDuration = new Gauge({ name: 'dns_record_check_duration_seconds', help: 'Time the last run of the record check took, in seconds (lookups and the MTA-STS policy fetch).', labelNames: ['domain', 'check'], registers });
    this.checkErrors = new Counter({ name: 'dns_record_check_errors_total', help: 'Record checks that ended without a definite answer (a lookup failed), by check and reason (timeout, servfail, refused, unreachable, bad_answer, other).', labelNames: ['check', 'reason'], registers });
    this.checkLastSuccess = new Gauge({ name: 'dns_record_check_last_success_timestamp_seconds', help: 'Unix time the record check last ended with a definite answer.', labelNames: ['domain', 'check'], registers });
    this.spfAuthorised = new Gauge({ name: 'dns_spf_authorised', help: "Whether the domain's SPF passes the own sending IP (target), evaluated with mailauth as a receiver would (1) or not (0).", labelNames: ['domain', 'target'], registers });
    this.spfLookups = new Gauge({ name: 'dns_spf_lookups', help: "DNS lookups the domain's SPF evaluation needs (receivers give permerror above 10).", labelNames: ['domain'], registers });
    this.dkimBits = new Gauge({ name: 'dns_dkim_key_bits', help: 'Size of the DKIM public key of the selector, in bits (0: missing, revoked or unparsable; below 1024 is refused, 2048 is recommended).', labelNames: ['domain', 'selector'], registers });
    this.dmarcPolicy = new Gauge({ name: 'dns_dmarc_policy', help: "The domain's DMARC policy (none, quarantine, reject); 1 for the published one.", labelNames: ['domain', 'policy'], registers });
    this.daneValidated = new Gauge({ name: 'dns_dane_dnssec_validated', help: "Whether the resolver validated the TLSA records of every MX of the domain with DNSSEC (1); senders ignore unvalidated ones. Needs a validating --dns.resolver.", labelNames: ['domain'], registers });
    this.fcrdnsOk = new Gauge({ name: 'dns_fcrdns_ok', help: `Whether the own sending IP (target) has a PTR whose name resolves back to it and equals its HELO name (1) or not (0). ${KEPT}`, labelNames: ['target'], registers });
    this.fcrdnsProblem = new Gauge({ name: 'dns_fcrdns_problem', help: 'The reverse DNS problem of the sending IP (missing, forward_mismatch, helo_mismatch); 1 per current problem.', labelNames: ['target', 'problem'], registers });
  }
}
