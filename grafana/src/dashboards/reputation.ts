/** Sending reputation: blocklist listings, the mail DNS records and reverse DNS (dns exporter), accounts near their daily recipient limit (redis exporter). */
import { type DashboardSpec, HOST, hostVariables, stat, table, timeseries } from '../lib';

const H = HOST;
const RI = '$__rate_interval';

export const reputation: DashboardSpec = {
  uid: 'tinomail-reputation',
  title: 'Mail / Reputation (blocklists, DNS records, sending accounts)',
  description:
    'Whether receivers will take our mail: own sending IPs and domains on blocklists, MX, SPF, DKIM, DMARC, MTA-STS, TLS-RPT and reverse DNS (dns exporter), and accounts that send like a compromised one (redis exporter, zonemta-wildduck daily recipient counters).',
  variables: [...hostVariables('{__name__=~"dns_up|redis_up"}')],
  rows: [
    {
      title: 'Now',
      panels: [
        stat({
          title: 'Listings on major lists',
          description: 'Own IPs and domains listed on a major blocklist (Spamhaus ZEN and DBL, Barracuda). Above 0 many receivers refuse that mail now.',
          unit: 'short',
          width: 4,
          criticalAt: 1,
          alerts: ['TinomailBlocklistListingMajor'],
          queries: [{ expr: `count(dns_blocklist_listed{tier="major", ${H}} == 1) or vector(0)` }],
        }),
        stat({
          title: 'Listings on minor lists',
          description: 'Own IPs and domains listed on a minor blocklist (SpamCop, PSBL, Mailspike, SURBL, URIBL): some receivers refuse that mail.',
          unit: 'short',
          width: 4,
          warnAt: 1,
          alerts: ['TinomailBlocklistListingMinor'],
          queries: [{ expr: `count(dns_blocklist_listed{tier="minor", ${H}} == 1) or vector(0)` }],
        }),
        stat({
          title: 'Broken DNS records',
          description: 'Record checks (mx, spf, dkim, dmarc, mta_sts, tls_rpt) of own domains that found a problem; the table below says which.',
          unit: 'short',
          width: 4,
          warnAt: 1,
          alerts: ['TinomailDnsRecordBroken'],
          queries: [{ expr: `count(dns_record_check_ok{${H}} == 0) or vector(0)` }],
        }),
        stat({
          title: 'Reverse DNS mismatches',
          description: 'Sending IPs without a PTR that resolves back to them and matches their HELO name; many receivers refuse their mail.',
          unit: 'short',
          width: 4,
          warnAt: 1,
          alerts: ['TinomailReverseDnsMismatch'],
          queries: [{ expr: `count(dns_fcrdns_ok{${H}} == 0) or vector(0)` }],
        }),
        stat({
          title: 'Accounts past 80 % of their limit',
          description: 'Accounts that have sent to more than 80% of their daily recipient limit (wdr counters in Redis); a compromised account looks like this.',
          unit: 'short',
          width: 4,
          warnAt: 1,
          alerts: ['TinomailAccountNearRecipientLimit'],
          queries: [{ expr: `max(redis_wildduck_accounts_near_recipient_limit{threshold="0.8", ${H}})` }],
        }),
        stat({
          title: 'Resolver answering',
          description: 'dns_up: whether the dns exporter\'s resolver answered in the last 30 s (1). At 0 nothing is checked and listings go unseen.',
          unit: 'bool',
          width: 4,
          criticalBelow: 1,
          alerts: ['TinomailDnsResolverDown'],
          queries: [{ expr: `min(dns_up{${H}})` }],
        }),
      ],
    },
    {
      title: 'Blocklists',
      panels: [
        table({
          title: 'Listings',
          description: 'Each own IP or domain on each blocklist: 1 listed, 0 not listed. Missing: no definite answer yet (see the lookup errors).',
          unit: 'short',
          width: 12,
          alerts: ['TinomailBlocklistListingMajor', 'TinomailBlocklistListingMinor'],
          queries: [{ expr: `max by (list, tier, target) (dns_blocklist_listed{${H}})` }],
        }),
        table({
          title: 'Listing reasons',
          description: "Why a target is listed, from the list's documented return codes (Spamhaus sbl, css, xbl, pbl; DBL spam, phish, malware, ...).",
          unit: 'short',
          width: 12,
          queries: [{ expr: `max by (list, target, reason) (dns_blocklist_listing_reason{${H}})` }],
        }),
        timeseries({
          title: 'Lookup errors by list and reason',
          description: 'Blocklist lookups without a definite answer: refused or rate-limited by the list (public resolver, no DQS key), timeouts, SERVFAIL, undocumented codes. Such lookups are never counted as listings.',
          unit: 'ops',
          alerts: ['TinomailBlocklistUnchecked'],
          queries: [{ expr: `sum by (list, reason) (rate(dns_blocklist_query_errors_total{${H}}[${RI}]))`, legend: '{{list}} {{reason}}' }],
        }),
        timeseries({
          title: 'Lookup time (95th percentile)',
          description: 'How long blocklist lookups take, per list; near the --dns.timeout the resolver or the list is struggling.',
          unit: 's',
          queries: [{ expr: `histogram_quantile(0.95, sum by (list, le) (rate(dns_blocklist_query_duration_seconds_bucket{${H}}[${RI}])))`, legend: '{{list}}' }],
        }),
      ],
    },
    {
      title: 'DNS records',
      panels: [
        table({
          title: 'Record checks',
          description: 'Each record check of each own domain: 1 no problem, 0 a problem (next table). Missing: the check has not ended with a definite answer.',
          unit: 'short',
          width: 12,
          alerts: ['TinomailDnsRecordBroken'],
          queries: [{ expr: `min by (domain, check) (dns_record_check_ok{${H}})` }],
        }),
        table({
          title: 'Record problems',
          description: 'What each failing check found: missing, multiple, invalid, too_many_lookups, ip_not_authorised (SPF), too_short (DKIM), no_rua (DMARC), mx_mismatch (MTA-STS), ...',
          unit: 'short',
          width: 12,
          queries: [{ expr: `max by (domain, check, problem) (dns_record_check_problem{${H}})` }],
        }),
        table({
          title: 'SPF per sending IP',
          description: "Whether each domain's SPF passes each own sending IP (1), evaluated as a receiver does; 0 means mail from that IP fails SPF.",
          unit: 'short',
          width: 8,
          queries: [{ expr: `min by (domain, target) (dns_spf_authorised{${H}})` }],
        }),
        table({
          title: 'DKIM key sizes',
          description: 'Bits of each configured DKIM selector key: 0 missing or unusable, below 1024 refused by receivers, 2048 recommended.',
          unit: 'short',
          width: 8,
          queries: [{ expr: `max by (domain, selector) (dns_dkim_key_bits{${H}})` }],
        }),
        table({
          title: 'Reverse DNS of the sending IPs',
          description: 'FCrDNS of each sending IP: 1 its PTR resolves back to it and matches its HELO name, 0 not (missing, forward_mismatch, helo_mismatch).',
          unit: 'short',
          width: 8,
          alerts: ['TinomailReverseDnsMismatch'],
          queries: [{ expr: `min by (target) (dns_fcrdns_ok{${H}})` }, { expr: `max by (target, problem) (dns_fcrdns_problem{${H}})` }],
        }),
        timeseries({
          title: 'SPF lookups',
          description: "DNS lookups each domain's SPF needs; receivers give permerror above 10, so flatten includes before it gets there.",
          unit: 'short',
          queries: [{ expr: `max by (domain) (dns_spf_lookups{${H}})`, legend: '{{domain}}' }],
        }),
        timeseries({
          title: 'Check durations',
          description: 'Time the last run of each record check took (lookups and the MTA-STS policy fetch).',
          unit: 's',
          queries: [{ expr: `max by (domain, check) (dns_record_check_duration_seconds{${H}})`, legend: '{{domain}} {{check}}' }],
        }),
      ],
    },
    {
      title: 'Sending accounts',
      panels: [
        timeseries({
          title: 'Accounts near their daily recipient limit',
          description: 'Accounts at or above 50%, 80% and 100% of the daily recipient limit (zonemta-wildduck wdr counters, 24 h windows); at 100% ZoneMTA refuses their mail. A sudden rise is a wave of compromised accounts.',
          unit: 'short',
          alerts: ['TinomailAccountNearRecipientLimit', 'TinomailAccountsNearLimitJump'],
          queries: [{ expr: `max by (threshold) (redis_wildduck_accounts_near_recipient_limit{${H}})`, legend: 'at or above {{threshold}}' }],
        }),
        timeseries({
          title: 'Highest share of the limit',
          description: 'The largest fraction of its daily recipient limit any one account has used (above 1: the last message pushed it over).',
          unit: 'percentunit',
          queries: [{ expr: `max(redis_wildduck_recipient_usage_ratio_max{${H}})`, legend: 'highest' }],
        }),
        timeseries({
          title: 'Usage of the limit (accounts, cumulative)',
          description: 'Accounts whose usage is at most each fraction of the daily recipient limit (a snapshot histogram of the last key scan); +Inf is every account that sent today.',
          unit: 'short',
          queries: [{ expr: `max by (le) (redis_wildduck_recipient_usage_accounts{${H}})`, legend: '<= {{le}}' }],
        }),
        timeseries({
          title: 'Accounts that sent today',
          description: 'Accounts with a live daily recipient counter, against the limit the exporter compares them with.',
          unit: 'short',
          queries: [
            { expr: `max(redis_wildduck_sending_accounts{${H}})`, legend: 'accounts' },
            { expr: `max(redis_wildduck_recipient_limit{${H}})`, legend: 'daily limit' },
          ],
        }),
      ],
    },
  ],
};
