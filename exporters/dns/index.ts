/**
 * `tinomail-monitor dns`: the sending reputation of the own IPs and domains, before refusals start.
 * Blocklist listings (IP and domain lists) and the mail DNS records (MX, SPF, DKIM, DMARC, MTA-STS,
 * TLS-RPT, FCrDNS). Lookups run in the background, spread over the interval and rate-limited per list;
 * scrapes read the last answers. See docs/dns.md.
 */
import { readFileSync } from 'node:fs';
import { load as loadYaml } from 'js-yaml';
import type { Exporter, ExporterContext, ExporterDefinition, ScrapeContext } from '../kit/exporter';
import { FlagError, type FlagSpec, parseAddress } from '../kit/flags';
import type { Logger } from '../kit/log';
import { BUILTIN_LISTS, DEFAULT_DOMAIN_LISTS, DEFAULT_IP_LISTS, interpretAnswer, type ListDefinition, listReasons, parseListsFile, queryName, withDqsKey } from './lists';
import { DnsMetrics } from './metrics';
import { checkDane, checkDkim, checkDmarc, checkFcrdns, checkMtaSts, checkMx, checkSpf, checkTlsRpt, guarded, type PolicyFetchOptions, PROBLEMS } from './records';
import { DnsClient, isNoRecord, QUERY_ERROR_REASONS, queryErrorReason, RateLimiter, sleep } from './resolver';
import { buildTargets, normaliseDomain, type Targets } from './targets';

/** dns_up is 1 while the resolver answered a query (any answer, NXDOMAIN too) this recently. */
const UP_WINDOW_MS = 30_000;

const CHECKS = ['mx', 'spf', 'dkim', 'dmarc', 'mta_sts', 'tls_rpt', 'dane', 'fcrdns'];

const FLAGS: FlagSpec[] = [
  { name: 'dns.ips', type: 'list', default: '', help: 'Own sending IPs (IPv4 and IPv6), comma-separated: checked on the IP blocklists, for SPF and for FCrDNS.' },
  { name: 'dns.domains', type: 'list', default: '', help: 'Own mail domains, comma-separated: checked on the domain blocklists and for their mail DNS records.' },
  { name: 'dns.targets-file', type: 'string', default: '', help: 'File with more targets, one a line: `<ip> [helo name]` or `<domain> [dkim selector ...]` (# comments).' },
  { name: 'dns.helo-names', type: 'list', default: '', help: 'HELO name of each sending IP as `ip=name`, or one `name` for all: FCrDNS must lead to it.' },
  { name: 'dns.dkim-selectors', type: 'list', default: '', help: 'DKIM selectors to check: `selector` (every domain) or `domain:selector`.' },
  { name: 'dns.ip-lists', type: 'list', default: DEFAULT_IP_LISTS.join(','), help: `IP blocklists to query (built in: ${Object.values(BUILTIN_LISTS).filter((l) => l.kind === 'ip').map((l) => l.name).join(', ')}; more from --dns.lists-file).` },
  { name: 'dns.domain-lists', type: 'list', default: DEFAULT_DOMAIN_LISTS.join(','), help: `Domain blocklists to query (built in: ${Object.values(BUILTIN_LISTS).filter((l) => l.kind === 'domain').map((l) => l.name).join(', ')}; more from --dns.lists-file).` },
  { name: 'dns.lists-file', type: 'string', default: '', help: 'YAML file defining or overriding lists: `<name>: {zone, kind: ip|domain, tier: major|minor, codes: {127.0.0.2: reason}, bits, errors, rate}`.' },
  { name: 'dns.spamhaus-dqs-key', type: 'string', default: '', secret: true, help: 'Spamhaus DQS key: Spamhaus lists are then queried as <key>.zen.dq.spamhaus.net (needed behind public resolvers, which Spamhaus refuses).' },
  { name: 'dns.dane-domains', type: 'list', default: '', help: 'Own domains that publish DANE: each of their MX hosts must have a usable TLSA record at _25._tcp.<mx> (the dane check).' },
  { name: 'dns.checks', type: 'list', default: CHECKS.join(','), help: `Record checks to run (${CHECKS.join(', ')}); leave out records you do not publish.` },
  { name: 'dns.resolver', type: 'address', default: '', help: "Send every query to this resolver (host:port); empty: the system's resolvers." },
  { name: 'dns.timeout', type: 'duration', default: '5s', help: 'Time to wait for one DNS answer.' },
  { name: 'dns.interval', type: 'duration', default: '5m', help: 'Each target is looked up on each list once per interval, the lookups spread over it (cached answers are not asked again before their TTL ends).' },
  { name: 'dns.records-interval', type: 'duration', default: '5m', help: 'Time between two runs of the record checks.' },
  { name: 'dns.rate', type: 'number', default: '2', help: 'At most this many queries per second to one list (a list in --dns.lists-file may set its own rate).' },
  { name: 'dns.mta-sts-ca-file', type: 'string', default: '', help: "PEM CA certificates trusted for the MTA-STS policy hosts instead of the system's (for tests and private CAs)." },
  { name: 'dns.mta-sts-connect-to', type: 'address', default: '', help: 'Fetch every MTA-STS policy from this host:port instead of mta-sts.<domain>:443; the TLS name stays mta-sts.<domain> (for tests).' },
];

function flagValue<T>(name: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new FlagError(`invalid value for --${name}: ${(err as Error).message}`);
  }
}

function readFlagFile(name: string, path: string): string {
  return flagValue(name, () => readFileSync(path, 'utf8'));
}

/** The lists to query: built-ins and --dns.lists-file, chosen by --dns.ip-lists/--dns.domain-lists. */
function chooseLists(ctx: ExporterContext): ListDefinition[] {
  const known = new Map(Object.entries(BUILTIN_LISTS));
  const file = ctx.flags['dns.lists-file'] as string;
  if (file) {
    const defs = flagValue('dns.lists-file', () => parseListsFile(loadYaml(readFlagFile('dns.lists-file', file))));
    for (const def of defs) known.set(def.name, def);
  }
  const key = ctx.flags['dns.spamhaus-dqs-key'] as string;
  if (key && !/^[a-z0-9]{10,64}$/i.test(key)) throw new FlagError('invalid value for --dns.spamhaus-dqs-key: 10 to 64 letters and digits');
  const out: ListDefinition[] = [];
  for (const kind of ['ip', 'domain'] as const) {
    const flag = `dns.${kind}-lists`;
    for (const name of ctx.flags[flag] as string[]) {
      const def = known.get(name);
      if (!def) throw new FlagError(`invalid value for --${flag}: unknown list ${JSON.stringify(name)} (known: ${[...known.keys()].join(', ')})`);
      if (def.kind !== kind) throw new FlagError(`invalid value for --${flag}: ${name} is a ${def.kind} list`);
      out.push(withDqsKey(def, key));
    }
  }
  return out;
}

interface Listing {
  listed: boolean;
  reasons: string[];
  /** Cached until (ms); 0: ask again next round. */
  until: number;
  at: number;
}

class DnsExporter implements Exporter {
  private readonly log: Logger;
  private readonly client: DnsClient;
  private readonly metrics: DnsMetrics;
  private readonly targets: Targets;
  private readonly lists: ListDefinition[];
  private readonly checks: Set<string>;
  private readonly daneDomains: Set<string>;
  private readonly intervalMs: number;
  private readonly recordsIntervalMs: number;
  private readonly rate: number;
  private readonly policy: PolicyFetchOptions;
  private readonly cache = new Map<string, Listing>();
  private readonly lastDefinite = new Map<string, number>();
  private readonly stopper = new AbortController();
  private loops: Promise<void>[] = [];
  private probe: Promise<unknown> | undefined;

  constructor(ctx: ExporterContext) {
    this.log = ctx.log;
    const f = ctx.flags;
    const positive = (name: string) => {
      if (!((f[name] as number) > 0)) throw new FlagError(`--${name} must be greater than 0`);
      return f[name] as number;
    };
    this.intervalMs = positive('dns.interval');
    this.recordsIntervalMs = positive('dns.records-interval');
    const timeoutMs = positive('dns.timeout');
    this.rate = positive('dns.rate');
    const targetsFile = f['dns.targets-file'] as string;
    this.targets = flagValue(targetsFile ? 'dns.targets-file' : 'dns.ips', () =>
      buildTargets({
        ips: f['dns.ips'] as string[],
        domains: f['dns.domains'] as string[],
        heloNames: f['dns.helo-names'] as string[],
        selectors: f['dns.dkim-selectors'] as string[],
        file: targetsFile ? readFlagFile('dns.targets-file', targetsFile) : undefined,
      }),
    );
    this.lists = chooseLists(ctx);
    this.daneDomains = new Set(flagValue('dns.dane-domains', () => (f['dns.dane-domains'] as string[]).map(normaliseDomain)));
    for (const d of this.daneDomains) if (!this.targets.domains.includes(d)) this.targets.domains.push(d);
    this.checks = new Set(f['dns.checks'] as string[]);
    for (const c of this.checks) if (!CHECKS.includes(c)) throw new FlagError(`invalid value for --dns.checks: unknown check ${JSON.stringify(c)} (one of ${CHECKS.join(', ')})`);
    const caFile = f['dns.mta-sts-ca-file'] as string;
    const connectTo = f['dns.mta-sts-connect-to'] as string;
    this.policy = {
      ca: caFile ? readFlagFile('dns.mta-sts-ca-file', caFile) : undefined,
      connectTo: connectTo ? parseAddress(connectTo) : undefined,
      timeoutMs,
    };
    this.client = new DnsClient({ resolver: f['dns.resolver'] as string, timeoutMs });

    this.metrics = new DnsMetrics(ctx.registry);
    this.metrics.targets.set({ kind: 'ip' }, this.targets.ips.length);
    this.metrics.targets.set({ kind: 'domain' }, this.targets.domains.length);
    const key = f['dns.spamhaus-dqs-key'] as string;
    for (const list of this.lists) {
      this.metrics.listInfo.set({ list: list.name, zone: key ? list.zone.replace(key, '<key>') : list.zone, kind: list.kind, tier: list.tier }, 1);
      const errorReasons = [...QUERY_ERROR_REASONS, 'unexpected_answer', ...Object.values(list.errors ?? {})];
      for (const reason of new Set(errorReasons)) this.metrics.listErrors.inc({ list: list.name, reason }, 0);
      this.metrics.listQueries.inc({ list: list.name }, 0);
    }
    for (const check of this.checks) for (const reason of QUERY_ERROR_REASONS) this.metrics.checkErrors.inc({ check, reason }, 0);
  }

  async start(): Promise<void> {
    for (const list of this.lists) {
      const targets = list.kind === 'ip' ? this.targets.ips : this.targets.domains;
      if (targets.length) this.loops.push(this.listLoop(list, targets));
    }
    if (this.hasTargets) this.loops.push(this.recordsLoop());
    else this.log.warn('no --dns.ips or --dns.domains: nothing to check, no DNS query is sent');
    this.log.info('watching', { ips: this.targets.ips.length, domains: this.targets.domains.length, lists: this.lists.map((l) => l.name).join(',') });
  }

  /** dns_up: whether the resolver answers. Asks it directly when no background lookup told us lately. */
  async scrape(ctx: ScrapeContext): Promise<boolean> {
    // Nothing to watch: no query at all (not even a probe), and nothing that failed.
    if (!this.hasTargets) return true;
    if (!this.client.answeredWithin(UP_WINDOW_MS)) {
      // One probe at a time, however often Prometheus scrapes a resolver that does not answer.
      const name = this.targets.domains[0] ?? this.lists[0]?.zone ?? '.';
      this.probe ??= this.client
        .resolve(name, 'NS')
        .catch(() => undefined)
        .finally(() => (this.probe = undefined));
      const scrapeEnds = new AbortController();
      await Promise.race([this.probe, sleep(ctx.deadline - Date.now() - 100, AbortSignal.any([ctx.signal, scrapeEnds.signal]))]);
      scrapeEnds.abort();
    }
    return this.client.answeredWithin(UP_WINDOW_MS);
  }

  async stop(): Promise<void> {
    this.stopper.abort();
    this.client.cancel();
    await Promise.allSettled(this.loops);
  }

  private get hasTargets(): boolean {
    return this.targets.domains.length + this.targets.ips.length > 0;
  }

  private get stopping(): boolean {
    return this.stopper.signal.aborted;
  }

  /** One list: every target once per interval, spread over it; the first round goes as fast as the rate allows. */
  private async listLoop(list: ListDefinition, targets: string[]): Promise<void> {
    const limiter = new RateLimiter(list.rate ?? this.rate);
    let first = true;
    while (!this.stopping) {
      const roundStart = Date.now();
      for (const [i, target] of targets.entries()) {
        if (this.stopping) return;
        await this.checkListing(list, target, limiter);
        if (!first) await sleep(roundStart + ((i + 1) * this.intervalMs) / targets.length - Date.now(), this.stopper.signal);
      }
      if (first) await sleep(roundStart + this.intervalMs - Date.now(), this.stopper.signal);
      first = false;
    }
  }

  private async checkListing(list: ListDefinition, target: string, limiter: RateLimiter): Promise<void> {
    const key = `${list.name} ${target}`;
    const cached = this.cache.get(key);
    if (cached && cached.until > Date.now()) return;
    await limiter.take(this.stopper.signal);
    if (this.stopping) return;
    const labels = { list: list.name, target };
    this.metrics.listQueries.inc({ list: list.name });
    const end = this.metrics.listQueryDuration.startTimer({ list: list.name });
    let verdict: ReturnType<typeof interpretAnswer>;
    let ttl = 0;
    try {
      const answer = await this.client.resolve4Ttl(queryName(list, target));
      ttl = Math.min(...answer.map((a) => a.ttl));
      verdict = interpretAnswer(list, answer.map((a) => a.address));
    } catch (err) {
      // NXDOMAIN is "not listed"; so is NODATA (a name with no A record is no listing, RFC 5782).
      verdict = isNoRecord(err) ? { listed: false } : { error: queryErrorReason(err) };
    } finally {
      end();
    }
    if (this.stopping) return;
    if ('error' in verdict) {
      this.metrics.listErrors.inc({ list: list.name, reason: verdict.error });
      this.cache.delete(key);
      this.log.debug('blocklist query failed', { ...labels, reason: verdict.error });
      if (this.expired(key)) {
        this.metrics.listed.remove({ ...labels, tier: list.tier });
        this.clearReasons(list, target);
      }
      return;
    }
    const now = Date.now();
    this.lastDefinite.set(key, now);
    this.cache.set(key, { listed: verdict.listed, reasons: verdict.listed ? verdict.reasons : [], until: now + ttl * 1000, at: now });
    this.metrics.listed.set({ ...labels, tier: list.tier }, verdict.listed ? 1 : 0);
    this.metrics.listLastSuccess.set(labels, now / 1000);
    this.clearReasons(list, target);
    if (verdict.listed) for (const reason of verdict.reasons) this.metrics.listingReason.set({ ...labels, reason }, 1);
  }

  private clearReasons(list: ListDefinition, target: string): void {
    for (const reason of listReasons(list)) this.metrics.listingReason.remove({ list: list.name, target, reason });
  }

  /** No definite answer for 3 intervals: the last one is too old to show. */
  private expired(key: string): boolean {
    return Date.now() - (this.lastDefinite.get(key) ?? 0) > 3 * Math.max(this.intervalMs, this.recordsIntervalMs);
  }

  private async recordsLoop(): Promise<void> {
    while (!this.stopping) {
      const started = Date.now();
      await Promise.all([...this.targets.domains.map((d) => this.checkDomain(d)), ...(this.checks.has('fcrdns') ? this.targets.ips.map((ip) => this.checkIp(ip)) : [])]);
      await sleep(started + this.recordsIntervalMs - Date.now(), this.stopper.signal);
    }
  }

  private async checkDomain(domain: string): Promise<void> {
    const resolve = this.client.resolve;
    let mxHosts: string[] | undefined;
    const dane = this.checks.has('dane') && this.daneDomains.has(domain);
    if (this.checks.has('mx') || this.checks.has('mta_sts') || dane) {
      mxHosts = (await this.runCheck(domain, 'mx', () => checkMx(resolve, domain), this.checks.has('mx')))?.hosts;
    }
    const tasks: Promise<unknown>[] = [];
    if (this.checks.has('spf')) {
      tasks.push(this.runCheck(domain, 'spf', async () => {
        const r = await checkSpf(resolve, domain, this.targets.ips);
        for (const [ip, ok] of r.authorised) this.metrics.spfAuthorised.set({ domain, target: ip }, ok ? 1 : 0);
        if (r.lookups !== undefined) this.metrics.spfLookups.set({ domain }, r.lookups);
        return { problems: r.problems };
      }));
    }
    const selectors = this.targets.selectors.get(domain) ?? [];
    if (this.checks.has('dkim') && selectors.length) {
      tasks.push(this.runCheck(domain, 'dkim', async () => {
        const problems = new Set<string>();
        for (const selector of selectors) {
          const key = await checkDkim(resolve, domain, selector);
          this.metrics.dkimBits.set({ domain, selector }, key.problem && key.problem !== 'too_short' ? 0 : (key.bits ?? 0));
          if (key.problem) problems.add(key.problem);
        }
        return { problems: [...problems] };
      }));
    }
    if (this.checks.has('dmarc')) {
      tasks.push(this.runCheck(domain, 'dmarc', async () => {
        const r = await checkDmarc(resolve, domain);
        for (const policy of ['none', 'quarantine', 'reject']) this.metrics.dmarcPolicy.remove({ domain, policy });
        if (r.policy) this.metrics.dmarcPolicy.set({ domain, policy: r.policy }, 1);
        return r;
      }));
    }
    if (this.checks.has('mta_sts') && mxHosts) {
      const hosts = mxHosts;
      tasks.push(this.runCheck(domain, 'mta_sts', () => checkMtaSts(resolve, domain, hosts, this.policy)));
    }
    if (dane && mxHosts) {
      const hosts = mxHosts;
      tasks.push(this.runCheck(domain, 'dane', async () => {
        const r = await checkDane((name) => this.client.resolveTlsa(name), hosts);
        this.metrics.daneValidated.set({ domain }, r.validated ? 1 : 0);
        return r;
      }));
    }
    if (this.checks.has('tls_rpt')) tasks.push(this.runCheck(domain, 'tls_rpt', () => checkTlsRpt(resolve, domain)));
    await Promise.all(tasks);
  }

  /**
   * Runs one check and publishes its result; resolves to its value, or undefined after a lookup error
   * (counted; the previous result stays, for at most 3 intervals).
   */
  private async runCheck<T extends { problems: string[] }>(domain: string, check: string, fn: () => Promise<T>, publish = true): Promise<T | undefined> {
    const started = performance.now();
    const result = await guarded(fn);
    const key = `check ${domain} ${check}`;
    if (publish) this.metrics.checkDuration.set({ domain, check }, (performance.now() - started) / 1000);
    if ('lookupError' in result && result.lookupError !== undefined) {
      const reason = queryErrorReason(result.lookupError);
      if (publish) {
        this.metrics.checkErrors.inc({ check, reason });
        if (this.expired(key)) this.publishCheck(domain, check, undefined);
      }
      this.log.debug('record check failed', { domain, check, reason, err: (result.lookupError as Error)?.message });
      return undefined;
    }
    const value = result as T;
    if (publish) {
      this.lastDefinite.set(key, Date.now());
      this.metrics.checkLastSuccess.set({ domain, check }, Date.now() / 1000);
      this.publishCheck(domain, check, value.problems);
    }
    return value;
  }

  private publishCheck(domain: string, check: string, problems: string[] | undefined): void {
    for (const problem of PROBLEMS[check as keyof typeof PROBLEMS]) this.metrics.checkProblem.remove({ domain, check, problem });
    if (!problems) {
      this.metrics.checkOk.remove({ domain, check });
      return;
    }
    this.metrics.checkOk.set({ domain, check }, problems.length ? 0 : 1);
    for (const problem of problems) this.metrics.checkProblem.set({ domain, check, problem }, 1);
  }

  private async checkIp(ip: string): Promise<void> {
    const result = await guarded(() => checkFcrdns(this.client.resolve, ip, this.targets.helo.get(ip)));
    const key = `fcrdns ${ip}`;
    let problems: readonly string[] | undefined;
    if ('lookupError' in result && result.lookupError !== undefined) {
      this.metrics.checkErrors.inc({ check: 'fcrdns', reason: queryErrorReason(result.lookupError) });
      if (!this.expired(key)) return;
    } else {
      problems = (result as { problems: string[] }).problems;
      this.lastDefinite.set(key, Date.now());
    }
    for (const problem of PROBLEMS.fcrdns) this.metrics.fcrdnsProblem.remove({ target: ip, problem });
    if (!problems) return void this.metrics.fcrdnsOk.remove({ target: ip });
    this.metrics.fcrdnsOk.set({ target: ip }, problems.length ? 0 : 1);
    for (const problem of problems) this.metrics.fcrdnsProblem.set({ target: ip, problem }, 1);
  }
}

export const definition: ExporterDefinition = {
  name: 'dns',
  description: 'Sending reputation: own IPs and domains on blocklists, and the mail DNS records (MX, SPF, DKIM, DMARC, MTA-STS, TLS-RPT, DANE, FCrDNS)',
  defaultPort: 9750,
  flags: FLAGS,
  create: (ctx) => new DnsExporter(ctx),
};
