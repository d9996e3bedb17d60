/**
 * Many sites, one view (docs/multisite.md), with real daemons: two sites, each a real Haraka with the plugin, the
 * ZoneMTA plugin, every exporter and synthetic traffic (test/multisite/site.ts, one process per site), scraped by
 * its own Debian prometheus with the shipped prometheus.yml and rules plus deploy/multisite/prometheus-remote-write.yml,
 * the site named only by TINOMAIL_SITE; both remote-write to one Debian victoria-metrics. Site a also sends its
 * alerts to two prometheus-alertmanager clustered as deploy/multisite/default/prometheus-alertmanager-* say, and a
 * third Prometheus federates site a with the README's /federate job. Debian's vmalert checks the shipped rule files.
 *
 * What the test changes, and only that: every address (random loopback ports, Alertmanager cluster ports too) and
 * data directory; scrape and evaluation every 5 seconds, $__rate_interval 2m; only the jobs of SCRAPED; Alertmanager's peer timeout 2 s instead of 15 s and the
 * receivers of testAlertmanagerConfig; and one test rule that pages when the test says so.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { metricNames } from '../../grafana/src/promql';
import { writePrometheusConfig } from '../../scripts/demo/prometheus';
import { ownSeries } from '../grafana/known-metrics';
import { type Daemon, freePort, getJson, type Receiver, ROOT, startDaemon, startReceiver, testAlertmanagerConfig, waitFor } from '../prometheus/support';

jest.setTimeout(180_000);

const DEPLOY = join(ROOT, 'deploy', 'multisite');
const SITES = ['a', 'b'];
/**
 * The jobs each site's Prometheus scrapes: the sources of every series the three dashboards must show here. The
 * site's other exporters (system, redis, mongodb, wildduck) run but are not scraped: on a loaded machine their
 * collection made the one process of a site miss its scrape deadlines, and no query here needs them.
 */
const SCRAPED = ['haraka', 'zonemta-tinomail', 'gelf-exporter'];

/** An /etc/default file of deploy/multisite: its variables, and ARGS split into flags. */
function defaultFile(name: string): { env: Record<string, string>; args: string[] } {
  const env: Record<string, string> = {};
  for (const line of readFileSync(join(DEPLOY, 'default', name), 'utf8').split('\n')) {
    const m = /^([A-Z_]+)=(?:"(.*)"|(.*))$/.exec(line.trim());
    if (m) env[m[1]] = m[2] ?? m[3];
  }
  return { env, args: (env.ARGS ?? '').split(/\s+/).filter(Boolean) };
}

/** Replaces a flag's value (--name=value or -name=value), failing if the shipped file has no such flag. */
function setFlag(args: string[], name: string, value: string): string[] {
  const i = args.findIndex((a) => a.startsWith(`${name}=`));
  if (i < 0) throw new Error(`deploy/multisite has no ${name} flag in ${args.join(' ')}`);
  return args.map((a, j) => (j === i ? `${name}=${value}` : a));
}

type Query = { dashboard: string; panel: string; expr: string };
function dashboardQueries(uid: string): Query[] {
  const d = JSON.parse(readFileSync(join(ROOT, 'grafana', 'dashboards', `${uid}.json`), 'utf8')) as { panels: { title: string; targets?: { expr: string }[] }[] };
  return d.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ dashboard: uid, panel: p.title, expr: t.expr })));
}
const QUERIES = ['tinomail-overview', 'tinomail-outbound', 'tinomail-inbound'].flatMap(dashboardQueries);

/** As test/grafana/queries.test.ts: this repository's own series must have data here, except MongoDB's (none here). */
const own = ownSeries();
function mustReturnData(expr: string): boolean {
  const names = metricNames(expr);
  const isOwn = (n: string) => own.has(n) || (/[.*+]/.test(n) && [...own].some((o) => new RegExp(`^(?:${n})$`).test(o)));
  return names.length > 0 && names.every((n) => isOwn(n) && !/^mongodb_(?!up$|build_info$|scrape_duration_seconds$)/.test(n) && !/_(hook_)?errors_total$/.test(n));
}
/** What Grafana sends with the site picked and every other variable at "All". */
const substitute = (expr: string, site: string) => expr.replace(/\$__rate_interval/g, '2m').replace(/\$site\b/g, site).replace(/\$(host|instance|zone)\b/g, '.*');

type Result = { metric: Record<string, string>; value: [number, string] }[];

/** The queries (for each site value) that fail to evaluate, or return nothing where they must return data. */
async function unanswered(url: string, queries: Query[], sites: string[]): Promise<string[]> {
  const failures: string[] = [];
  for (const site of sites) {
    for (const q of queries) {
      const expr = substitute(q.expr, site);
      const r = await instant(url, expr);
      if (r.status !== 'success') failures.push(`${site}: ${q.dashboard} / ${q.panel}: ${expr}: ${r.error}`);
      else if (mustReturnData(q.expr) && r.data.result.length === 0) failures.push(`${site}: ${q.dashboard} / ${q.panel}: ${expr}: no data`);
    }
  }
  return failures;
}

/** The targets of a Prometheus that are not up, and why: the first thing to read when a query has no data. */
async function downTargets(url: string): Promise<string> {
  const targets = (await getJson(`${url}/api/v1/targets?state=active`)).data.activeTargets as { scrapePool: string; health: string; lastError: string }[];
  return `${targets.length} targets; not up: ${targets.filter((t) => t.health !== 'up').map((t) => `${t.scrapePool} (${t.health}: ${t.lastError})`).join('; ') || 'none'}`;
}

/** Polls until nothing is unanswered, or the limit; returns what was still unanswered last. */
async function allAnswered(url: string, queries: Query[], sites: string[], timeoutMs: number): Promise<string[]> {
  let last: string[] = [];
  await waitFor('every query answered', async () => ((last = await unanswered(url, queries, sites)).length === 0 ? true : undefined), timeoutMs, 1000).catch(() => undefined);
  return last;
}
async function instant(url: string, expr: string): Promise<{ status: string; error?: string; data: { result: Result } }> {
  const res = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: expr })}`);
  return (await res.json()) as { status: string; error?: string; data: { result: Result } };
}

/** Every site process started, stopped in afterAll even when a start failed half way. */
const siteProcesses: ChildProcess[] = [];

/** A site's traffic (test/multisite/site.ts) in its own process; resolves with its scrape targets. */
async function startSite(): Promise<{ child: ChildProcess; targets: Record<string, string[]>; errors(): string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'site.ts')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env: { ...process.env, TRAFFIC_MS: '3000' } });
  siteProcesses.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const line = await waitFor('site started', async () => (child.exitCode !== null ? Promise.reject(new Error(err)) : out.includes('\n') ? out : undefined), 120_000, 100);
  const { targets, skipped } = JSON.parse(line) as { targets: Record<string, string[]>; skipped: string[] };
  if (skipped.length) throw new Error(`a site could not start everything: ${skipped.join('; ')}`);
  return { child, targets, errors: () => err };
}
function stopSite(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** The test's page switch: a tiny /metrics with multisite_test_page{case} 1 for each case turned on. */
function startSwitch(): Promise<{ server: http.Server; address: string; on: Set<string> }> {
  const on = new Set<string>();
  const server = http.createServer((_req, res) => {
    res.setHeader('content-type', 'text/plain; version=0.0.4');
    res.end(`# TYPE multisite_test_page gauge\n${[...on].map((c) => `multisite_test_page{case="${c}"} 1\n`).join('')}`);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, address: `127.0.0.1:${(server.address() as AddressInfo).port}`, on })));
}

/** The README's /federate job (the yaml block after "federation"). */
function readmeFederateJob(): { job_name: string; honor_labels: boolean; metrics_path: string; params: Record<string, string[]>; static_configs: { targets: string[]; labels?: object }[] } {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const block = /\(federation\)[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme);
  if (!block) throw new Error('no federation yaml block in README.md');
  return (yaml.load(block[1].replace(/^ {2}/gm, '')) as any[])[0];
}

describe('two sites, one VictoriaMetrics, an Alertmanager pair', () => {
  let dir: string;
  const daemons: Daemon[] = [];
  const sites: { name: string; child: ChildProcess; url: string; prometheus: Daemon; errors(): string }[] = [];
  let vmUrl: string;
  let receiver: Receiver;
  let pageSwitch: Awaited<ReturnType<typeof startSwitch>>;
  const ams: { url: string; daemon: Daemon }[] = [];
  let globalUrl: string;

  async function startPrometheus(promDir: string, env: Record<string, string>, args: string[]): Promise<{ url: string; daemon: Daemon }> {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const child = spawn('prometheus', [`--config.file=${join(promDir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(promDir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn', ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    const daemon: Daemon = {
      process: child,
      output: () => output,
      stop: () => (child.exitCode !== null ? Promise.resolve() : new Promise<void>((r) => (child.once('exit', () => r()), child.kill('SIGTERM')))),
    };
    daemons.push(daemon);
    await waitFor('prometheus ready', async () => ((await fetch(`${url}/-/ready`)).ok ? true : undefined), 30_000, 100).catch((err) => {
      throw new Error(`${String(err)}\n${output}`);
    });
    return { url, daemon };
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tinomail-multisite-'));

    // The store: deploy/multisite/default/victoria-metrics, with this test's address and directory.
    const vmPort = await freePort();
    vmUrl = `http://127.0.0.1:${vmPort}`;
    let vmArgs = defaultFile('victoria-metrics').args;
    vmArgs = setFlag(setFlag(vmArgs, '-storageDataPath', join(dir, 'vm')), '-httpListenAddr', `127.0.0.1:${vmPort}`);
    const vm = startDaemon('victoria-metrics', [...vmArgs, '-search.disableCache']);
    daemons.push(vm);
    await waitFor('victoria-metrics ready', async () => ((await fetch(`${vmUrl}/health`)).ok ? true : undefined), 20_000, 100).catch((err) => {
      throw new Error(`${String(err)}\n${vm.output()}`);
    });

    // The Alertmanager pair, clustered as deploy/multisite/default/prometheus-alertmanager-{1,2} say.
    receiver = await startReceiver();
    const amConfig = testAlertmanagerConfig(dir, receiver.url);
    const amPorts = await Promise.all([0, 1].map(async () => ({ web: await freePort(), cluster: await freePort() })));
    for (const [i, ports] of amPorts.entries()) {
      const other = amPorts[1 - i];
      let args = defaultFile(`prometheus-alertmanager-${i + 1}`).args;
      args = setFlag(setFlag(args, '--cluster.listen-address', `127.0.0.1:${ports.cluster}`), '--cluster.peer', `127.0.0.1:${other.cluster}`);
      const daemon = startDaemon('prometheus-alertmanager', [
        ...args,
        `--config.file=${amConfig}`,
        `--storage.path=${join(dir, `am${i}`)}`,
        `--web.listen-address=127.0.0.1:${ports.web}`,
        '--cluster.peer-timeout=2s',
      ]);
      daemons.push(daemon);
      ams.push({ url: `http://127.0.0.1:${ports.web}`, daemon });
    }
    for (const am of ams) {
      await waitFor('alertmanager pair clustered', async () => {
        const status = await getJson(`${am.url}/api/v2/status`);
        return status.cluster?.status === 'ready' && status.cluster.peers?.length === 2 ? true : undefined;
      }, 30_000).catch((err) => {
        throw new Error(`${String(err)}\n${am.daemon.output()}`);
      });
    }
    pageSwitch = await startSwitch();

    // The two sites: traffic, then their Prometheus, which differ only in TINOMAIL_SITE.
    // one after the other: two Harakas starting at once on a loaded machine can miss the demo's banner deadline
    const traffic: Awaited<ReturnType<typeof startSite>>[] = [];
    for (const _site of SITES) traffic.push(await startSite());
    const overlay = yaml.load(readFileSync(join(DEPLOY, 'prometheus-remote-write.yml'), 'utf8')) as { global: object; remote_write: { url: string }[] };
    const promDefault = defaultFile('prometheus');
    const pairLine = /^# (- targets: \['alertmanager1\.example\.com:9093', 'alertmanager2\.example\.com:9093'\])$/m.exec(readFileSync(join(ROOT, 'prometheus', 'targets', 'alertmanager.yml'), 'utf8'));
    if (!pairLine) throw new Error('prometheus/targets/alertmanager.yml does not show the pair');
    for (const [i, name] of SITES.entries()) {
      const promDir = join(dir, `prometheus-${name}`);
      writePrometheusConfig(promDir, SCRAPED.reduce((t, job) => ({ ...t, [job]: traffic[i].targets[job] }), {}), '5s');
      const configFile = join(promDir, 'prometheus.yml');
      const config = yaml.load(readFileSync(configFile, 'utf8')) as any;
      config.global = { ...config.global, ...overlay.global };
      config.remote_write = overlay.remote_write.map((rw) => ({ ...rw, url: rw.url.replace('http://victoria-metrics.example.com:8428', vmUrl) }));
      if (name === 'a') {
        // site a pages through the pair, and carries the test's page switch and rule
        const pair = pairLine[1].replace('alertmanager1.example.com:9093', ams[0].url.slice(7)).replace('alertmanager2.example.com:9093', ams[1].url.slice(7));
        writeFileSync(join(promDir, 'targets', 'alertmanager.yml'), `${pair}\n`);
        config.scrape_configs.push({ job_name: 'multisite-test', static_configs: [{ targets: [pageSwitch.address] }] });
        writeFileSync(
          join(promDir, 'rules', 'multisite-test.yml'),
          yaml.dump({ groups: [{ name: 'multisite-test', rules: [{ alert: 'TinomailMultisiteTestPage', expr: 'multisite_test_page > 0', labels: { severity: 'critical' }, annotations: { summary: 'test', description: 'test {{ $labels.case }}' } }] }] }),
        );
      }
      writeFileSync(configFile, yaml.dump(config, { noRefs: true }));
      const { url, daemon } = await startPrometheus(promDir, { ...promDefault.env, TINOMAIL_SITE: name }, promDefault.args);
      sites.push({ name, child: traffic[i].child, url, prometheus: daemon, errors: traffic[i].errors });
    }
    // every target of both sites discovered and scraped (a loaded machine can be slow to answer the first scrapes)
    for (const [i, site] of sites.entries()) {
      const expected = SCRAPED.length + (site.name === 'a' ? 3 : 0); // + the pair and the switch
      await waitFor(`every target of site ${site.name} up`, async () => {
        const targets = (await getJson(`${site.url}/api/v1/targets?state=active`)).data.activeTargets as { health: string }[];
        return targets.length === expected && targets.every((t) => t.health === 'up') ? true : undefined;
      }, 60_000).catch(async (err) => {
        throw new Error(`${String(err)}: ${await downTargets(site.url)}`);
      });
    }

    // A global Prometheus with the README's /federate job, pointed at site a.
    const job = readmeFederateJob();
    job.static_configs = [{ targets: [sites[0].url.slice(7)], labels: job.static_configs[0].labels }];
    const globalDir = join(dir, 'prometheus-global');
    spawnSync('mkdir', ['-p', globalDir]);
    writeFileSync(join(globalDir, 'prometheus.yml'), yaml.dump({ global: { scrape_interval: '5s', scrape_timeout: '5s', evaluation_interval: '5s' }, scrape_configs: [job] }));
    globalUrl = (await startPrometheus(globalDir, {}, [])).url;
  });

  // a site whose traffic process died would leave its series to go stale: say so, with its error output
  afterEach(() => {
    for (const site of sites) expect(site.child.exitCode === null ? 'running' : `site ${site.name} exited: ${site.errors()}`).toBe('running');
  });

  afterAll(async () => {
    await Promise.all(siteProcesses.map(stopSite));
    for (const d of daemons.reverse()) await d.stop();
    await receiver?.close();
    pageSwitch?.server.closeAllConnections();
    await new Promise((r) => pageSwitch?.server.close(r));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('every site remote-writes with its site label, set by TINOMAIL_SITE alone', async () => {
    const up = await waitFor('up of both sites in VictoriaMetrics', async () => {
      const r = (await instant(vmUrl, 'count by (site) (up)')).data.result;
      return SITES.every((s) => r.some((x) => x.metric.site === s)) ? r : undefined;
    }, 60_000);
    expect(up.map((x) => x.metric.site).sort()).toEqual(SITES);
    expect((await instant(vmUrl, 'count(up{site=""})')).data.result).toEqual([]);
  });

  test('every query of the Overview, Outbound and Inbound dashboards returns data per site and for both, from VictoriaMetrics', async () => {
    // wait until every site's traffic reached the store through the recording rules
    await waitFor('traffic of both sites in VictoriaMetrics', async () => {
      const r = (await instant(vmUrl, 'count by (site) (host:haraka_messages_accepted:rate5m > 0)')).data.result;
      return SITES.every((s) => r.some((x) => x.metric.site === s)) ? true : undefined;
    }, 60_000);
    const left = await allAnswered(vmUrl, QUERIES, [...SITES, '.*'], 60_000);
    if (left.length) left.push(...(await Promise.all(sites.map(async (s) => `site ${s.name}: ${await downTargets(s.url)}`))));
    expect(left).toEqual([]);
    // a site's view holds only that site's series
    const perSite = (await instant(vmUrl, substitute('count by (site) (up{site=~"$site"})', 'b'))).data.result;
    expect(perSite.map((x) => x.metric.site)).toEqual(['b']);
  });

  test('recording-rule series arrive once per site', async () => {
    const RULES = '{__name__=~"[a-z_]+:[a-z0-9_]+:[a-z0-9_]+"}';
    for (const site of sites) {
      const counts = (r: Result) => Object.fromEntries(r.map((x) => [x.metric.__name__, x.value[1]]));
      const atSite = counts((await instant(site.url, `count by (__name__) (${RULES})`)).data.result);
      expect(Object.keys(atSite).length).toBeGreaterThan(3);
      await waitFor(`site ${site.name}'s recording rules in VictoriaMetrics, once each`, async () => {
        const inStore = counts((await instant(vmUrl, `count by (__name__) (${RULES.replace('"}', `", site="${site.name}"}`)})`)).data.result);
        return JSON.stringify(inStore) === JSON.stringify(counts((await instant(site.url, `count by (__name__) (${RULES})`)).data.result)) ? true : undefined;
      }, 30_000);
    }
    expect((await instant(vmUrl, `count(${RULES.replace('"}', '", site=""}')})`)).data.result).toEqual([]);
  });

  test('an alert reaches the receiver once through the pair, and still arrives with one Alertmanager stopped', async () => {
    const pages = (c: string) =>
      receiver.posts.filter((p) => p.path === '/pager' && p.body.status === 'firing' && p.body.alerts.some((a: any) => a.labels.alertname === 'TinomailMultisiteTestPage' && a.labels.case === c));
    const nflogQueries = async (url: string) => {
      const text = await (await fetch(`${url}/metrics`)).text();
      return Number(/^alertmanager_nflog_queries_total (\S+)$/m.exec(text)?.[1] ?? 0);
    };
    pageSwitch.on.add('pair');
    await receiver.waitFor((p) => pages('pair').includes(p), 60_000);
    // both Alertmanagers hold the alert and have asked the shared notification log since (the second waits its peer timeout)
    const before = await Promise.all(ams.map((am) => nflogQueries(am.url)));
    await waitFor('both Alertmanagers checked the notification log twice more', async () => {
      const now = await Promise.all(ams.map((am) => nflogQueries(am.url)));
      return now.every((n, i) => n >= before[i] + 2) ? true : undefined;
    }, 30_000);
    for (const am of ams) expect((await getJson<any[]>(`${am.url}/api/v2/alerts?filter=alertname%3D%22TinomailMultisiteTestPage%22`)).length).toBe(1);
    expect(pages('pair')).toHaveLength(1);
    expect(pages('pair')[0].body.alerts[0].labels.site).toBe('a');

    await ams[0].daemon.stop();
    pageSwitch.on.add('failover');
    await receiver.waitFor((p) => pages('failover').includes(p), 60_000);
    expect(pages('failover')).toHaveLength(1);
  });

  test("the README's /federate job brings what the global Overview needs, and nothing else", async () => {
    const overview = dashboardQueries('tinomail-overview');
    const needed = new Set(overview.flatMap((q) => metricNames(q.expr)));
    await waitFor('federated series', async () => ((await instant(globalUrl, 'count(haraka_messages_total)')).data.result.length ? true : undefined), 30_000);
    const left = await allAnswered(globalUrl, overview, ['.*'], 60_000);
    if (left.length) left.push(`site a: ${await downTargets(sites[0].url)}`, `global: ${await downTargets(globalUrl)}`);
    expect(left).toEqual([]);
    const federated = (await instant(globalUrl, 'count by (__name__) ({__name__=~".+", job!="federate"})')).data.result.map((x) => x.metric.__name__);
    expect(federated.filter((n) => !needed.has(n))).toEqual([]);
    expect(federated.length).toBeGreaterThan(3);
  });

  test('vmalert (Debian victoria-metrics) loads the shipped rule files, and refuses a broken one', () => {
    const ok = spawnSync('vmalert', ['-dryRun', `-rule=${join(ROOT, 'prometheus', 'rules', '*.yml')}`], { encoding: 'utf8' });
    expect([ok.status, /\bfatal\b/.test(ok.stderr + ok.stdout)]).toEqual([0, false]);
    const broken = join(dir, 'broken.yml');
    writeFileSync(broken, readFileSync(join(ROOT, 'prometheus', 'rules', 'recording.yml'), 'utf8').replace(/expr: (\S)/, 'expr: sum(( $1'));
    const bad = spawnSync('vmalert', ['-dryRun', `-rule=${broken}`], { encoding: 'utf8' });
    expect(bad.status).not.toBe(0);
  });
});
