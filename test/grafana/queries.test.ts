/**
 * Every query of every dashboard, evaluated by a real Prometheus (Debian's /usr/bin/prometheus, the shipped
 * prometheus.yml and rules) that scraped the running suite: scripts/demo.ts starts a real Haraka with the plugin,
 * the ZoneMTA plugin through ZoneMTA's own loader and log.remote, every exporter, redis-server, and sends traffic.
 *
 * This is the lighter demo: WildDuck is the stand-in of test/wildduck/fake-wildduck.ts, which answers as WildDuck
 * 1.50.0 does, and there is no MongoDB, so the mongodb exporter reports mongodb_up 0 and its other series are absent.
 * ZoneMTA, WildDuck and Rspamd native /metrics, node_exporter and blackbox_exporter have no process in it either:
 * queries on them must parse and evaluate, and their names are checked against prometheus/native-metrics.txt by
 * dashboards.test.ts. test/realsuite/oncall.test.ts runs every panel again on the real suite (WildDuck, ZoneMTA,
 * Haraka, rspamd, CongoDB), where those series exist. Every query on this repository's own metrics must return data
 * here, except the few listed in NO_DATA_HERE with the reason.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { silentLogger } from '../../exporters/kit/log';
import { metricNames } from '../../grafana/src/promql';
import { type Demo, startDemo } from '../../scripts/demo';
import { FakeWildDuck, mixedUsers } from '../wildduck/fake-wildduck';
import { ownSeries, ROOT } from './known-metrics';

/** Own series that stay empty on this machine, and why. */
const NO_DATA_HERE: [RegExp, string][] = [
  [/^mongodb_(?!up$|build_info$|scrape_duration_seconds$)/, 'no MongoDB server on this machine'],
  [/^(zonemta_tinomail_hook_errors_total|haraka_tinomail_errors_total)$/, 'errors caught inside the plugins: none happen'],
  [/^reports_fetch_errors_total$/, "the demo's report directory is always readable"],
  [/^probe_(?!up$|build_info$|scrape_duration_seconds$)/, 'the demo runs the mail probe without routes (test/probe covers them)'],
  [/^dns_(?!up$|build_info$|scrape_duration_seconds$)/, 'the demo gives the dns exporter no own IPs or domains (test/dns runs it on unbound)'],
  [/^redis_replication_master_link_up$/, "the demo's Redis is a primary: the link gauge exists on replicas only"],
];

interface PanelQuery {
  dashboard: string;
  panel: string;
  expr: string;
}

const dashboards = readdirSync(join(ROOT, 'grafana', 'dashboards'))
  .filter((f) => f.endsWith('.json'))
  .map((f) => JSON.parse(readFileSync(join(ROOT, 'grafana', 'dashboards', f), 'utf8')) as {
    uid: string;
    templating: { list: { name: string; type: string; query: string }[] };
    panels: { type: string; title: string; targets?: { expr: string }[] }[];
  });
const queries: PanelQuery[] = dashboards.flatMap((d) =>
  d.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ dashboard: d.uid, panel: p.title, expr: t.expr }))),
);
const own = ownSeries();

/** What Grafana sends with every variable at "All" ($__rate_interval: 4 scrape intervals of 1 s, and some). */
function substitute(expr: string): string {
  return expr.replace(/\$__rate_interval/g, '5s').replace(/\$(site|host|instance|zone)\b/g, '.*');
}

/** Does the query read only this repository's metrics that can have data here? */
function mustReturnData(expr: string): boolean {
  const names = metricNames(expr);
  const isOwn = (n: string) => own.has(n) || (/[.*+]/.test(n) && [...own].some((o) => new RegExp(`^(?:${n})$`).test(o)));
  return names.length > 0 && names.every((n) => isOwn(n) && !NO_DATA_HERE.some(([re]) => re.test(n)));
}

let demo: Demo;
let fakeWildDuck: FakeWildDuck;

async function api(path: string, params: Record<string, string>): Promise<{ status: string; error?: string; data: unknown }> {
  const res = await fetch(`${demo.prometheusUrl}/api/v1/${path}?${new URLSearchParams(params)}`);
  return (await res.json()) as { status: string; error?: string; data: unknown };
}

async function instant(expr: string): Promise<{ status: string; error?: string; data: { result: unknown[] } }> {
  return (await api('query', { query: expr })) as { status: string; error?: string; data: { result: unknown[] } };
}

beforeAll(async () => {
  fakeWildDuck = new FakeWildDuck({ users: mixedUsers(40), addresses: 45, domainAliases: 2, webhooks: 1 });
  const wildduckUrl = await fakeWildDuck.start();
  demo = await startDemo({
    ports: 'free',
    scrapeInterval: '1s',
    trafficEveryMs: 0,
    log: silentLogger,
    exporterFlags: { wildduck: [`--wildduck.url=${wildduckUrl}`, '--wildduck.crawl-interval=1s'] },
  });
  // Every part must run here (npm test builds the plugins; scripts/system-packages.txt lists redis-server and prometheus).
  if (demo.skipped.length) throw new Error(`the demo could not start everything: ${demo.skipped.join('; ')}`);
  // Traffic over a few scrapes, so counters have increased between samples and every label set exists.
  for (let round = 0; round < 4; round++) {
    await demo.traffic.once();
    await new Promise((r) => setTimeout(r, 700));
  }
  // Wait until every target has been scraped twice after the traffic: new series then have two samples.
  const trafficEnd = Date.now() / 1000;
  for (const deadline = Date.now() + 15000; ; ) {
    const r = await instant('min(timestamp(up))');
    const oldest = Number((r.data.result[0] as { value?: [number, string] } | undefined)?.value?.[1] ?? 0);
    if (oldest >= trafficEnd + 2) break;
    if (Date.now() > deadline) throw new Error('Prometheus did not scrape every target twice after the traffic');
    await new Promise((res) => setTimeout(res, 200));
  }
}, 60000);

afterAll(async () => {
  await demo?.stop();
  await fakeWildDuck?.stop();
});

describe('the suite under Prometheus', () => {
  test('every target of the demo is up, with the host label of prometheus.yml', async () => {
    const r = await instant('up');
    const down = (r.data.result as { metric: Record<string, string>; value: [number, string] }[]).filter((s) => s.value[1] !== '1' || !s.metric.host);
    expect(down).toEqual([]);
    expect(r.data.result.length).toBe(Object.values(demo.targets).flat().length);
  });
});

describe.each(queries.map((q) => [`${q.dashboard} / ${q.panel}: ${q.expr}`, q] as const))('%s', (_name, q) => {
  test(mustReturnData(q.expr) ? 'evaluates and returns data' : 'evaluates', async () => {
    let r = await instant(substitute(q.expr));
    // A busy machine can make a scrape miss a collector's deadline (the system exporter's host collector most of
    // all), leaving a rate without its two samples for a while: wait for the data, up to 30 s, rather than take
    // the first answer.
    for (const deadline = Date.now() + 30_000; mustReturnData(q.expr) && r.status === 'success' && r.data.result.length === 0 && Date.now() < deadline; ) {
      await new Promise((res) => setTimeout(res, 500));
      r = await instant(substitute(q.expr));
    }
    expect(r.error ?? r.status).toBe('success');
    if (mustReturnData(q.expr)) expect(r.data.result.length).toBeGreaterThan(0);
  });
});

describe('dashboard variables', () => {
  const variables = dashboards.flatMap((d) => d.templating.list.filter((v) => v.type === 'query').map((v) => ({ dashboard: d.uid, ...v })));

  // One Prometheus has no site label: the Site list is empty (its All, .*, matches all series: see the queries above).
  test.each(variables.map((v) => [`${v.dashboard} $${v.name}`, v] as const))('%s lists values (site: none)', async (_name, v) => {
    const [, selector, label] = /^label_values\((.*), *([a-z_]+)\)$/.exec(v.query)!;
    const r = (await api(`label/${label}/values`, { 'match[]': substitute(selector) })) as { status: string; data: string[] };
    expect(r.status).toBe('success');
    if (label === 'site') expect(r.data).toEqual([]);
    else expect(r.data.length).toBeGreaterThan(0);
  });
});
