/**
 * The dashboards in grafana/dashboards are generated from grafana/src and must match it; and they follow the rules
 * of grafana/dashboard-linter and of this project: unique uids and titles, a Prometheus datasource variable used
 * by every query, host/instance (and on Outbound, zone) variables applied to every selector, a title, description
 * and unit on every panel, counters only inside rate()/irate()/increase(), metric names that exist, and runbook
 * links from the panels about each alert.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RUNBOOK_URL } from '../../grafana/src/lib';
import { renderDashboards } from '../../grafana/src/index';
import { COUNTER_FUNCTIONS, metricNames, selectors } from '../../grafana/src/promql';
import { alertRules, knownSeries, recordingRules, ROOT } from './known-metrics';

interface Target {
  expr: string;
  refId: string;
  datasource?: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  datasource?: { type: string; uid: string };
  fieldConfig?: { defaults?: { unit?: string } };
  targets?: Target[];
  links?: { title: string; url: string }[];
}
interface Variable {
  type: string;
  name: string;
  query: string;
  datasource?: { uid: string };
}
interface Dashboard {
  uid: string;
  title: string;
  description: string;
  tags: string[];
  templating: { list: Variable[] };
  panels: Panel[];
}

const DIR = join(ROOT, 'grafana', 'dashboards');
const files = readdirSync(DIR).filter((f) => f.endsWith('.json'));
const dashboards: Dashboard[] = files.map((f) => JSON.parse(readFileSync(join(DIR, f), 'utf8')));
const known = knownSeries();
const GRAFANA_VARIABLES = new Set(['__rate_interval', '__interval', '__range']);

const panelsOf = (d: Dashboard) => d.panels.filter((p) => p.type !== 'row');
const queriesOf = (d: Dashboard) => panelsOf(d).flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p, expr: t.expr })));
/** The selector inside label_values(<selector>, <label>). */
const variableSelector = (v: Variable) => /^label_values\((.*), *[a-z_]+\)$/.exec(v.query)?.[1] ?? '';

/** Does a name in a query (a plain name, or a __name__ regex alternative) match a known series? */
function exists(name: string): boolean {
  if (known.has(name)) return true;
  if (!/[.*+?\\[\]]/.test(name)) return false;
  const pattern = new RegExp(`^(?:${name})$`);
  return [...known.keys()].some((k) => pattern.test(k));
}

describe('generated dashboards', () => {
  test('grafana/dashboards is what grafana/src generates (run `npm run dashboards`)', () => {
    const rendered = renderDashboards();
    expect(files.sort()).toEqual(rendered.map((d) => d.file).sort());
    for (const d of rendered) expect(readFileSync(join(DIR, d.file), 'utf8')).toBe(d.json);
  });

  test('the six dashboards of the issue are there, and Reputation (issue 15)', () => {
    expect(dashboards.map((d) => d.uid).sort()).toEqual(
      ['tinomail-datastores', 'tinomail-hosts', 'tinomail-inbound', 'tinomail-mailboxes', 'tinomail-outbound', 'tinomail-overview', 'tinomail-reports', 'tinomail-reputation'].sort(),
    );
  });

  test('uids and titles are unique, and panel ids and titles unique within a dashboard', () => {
    expect(new Set(dashboards.map((d) => d.uid)).size).toBe(dashboards.length);
    expect(new Set(dashboards.map((d) => d.title)).size).toBe(dashboards.length);
    for (const d of dashboards) {
      expect(new Set(d.panels.map((p) => p.id)).size).toBe(d.panels.length);
      const titles = panelsOf(d).map((p) => p.title);
      expect(titles.filter((t, i) => titles.indexOf(t) !== i)).toEqual([]);
    }
  });
});

describe.each(dashboards.map((d) => [d.uid, d] as const))('%s', (_uid, d) => {
  test('has a description and the shared tag', () => {
    expect(d.description.length).toBeGreaterThan(40);
    expect(d.tags).toContain('tinomail');
  });

  test('has a Prometheus datasource variable that every panel, query and variable uses', () => {
    const ds = d.templating.list.find((v) => v.type === 'datasource');
    expect(ds).toMatchObject({ name: 'datasource', query: 'prometheus' });
    for (const p of panelsOf(d)) {
      expect(p.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
      for (const t of p.targets ?? []) expect(t.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
    }
    for (const v of d.templating.list.filter((x) => x.type === 'query')) expect(v.datasource?.uid).toBe('${datasource}');
  });

  test('has host and instance variables, and every query uses only defined variables', () => {
    const names = new Set(d.templating.list.map((v) => v.name));
    expect(names).toContain('host');
    expect(names).toContain('instance');
    const exprs = [...queriesOf(d).map((q) => q.expr), ...d.templating.list.map((v) => variableSelector(v))];
    for (const expr of exprs) {
      for (const [, name] of expr.matchAll(/\$\{?([a-zA-Z_]+)/g)) expect(names.has(name) || GRAFANA_VARIABLES.has(name) ? name : `undefined $${name} in ${expr}`).toBe(name);
    }
  });

  test('every panel has a title, a description and a unit', () => {
    for (const p of panelsOf(d)) {
      expect(p.title.trim()).not.toBe('');
      expect({ title: p.title, description: (p.description ?? '').length > 20 }).toEqual({ title: p.title, description: true });
      expect({ title: p.title, unit: Boolean(p.fieldConfig?.defaults?.unit) }).toEqual({ title: p.title, unit: true });
      expect({ title: p.title, targets: (p.targets ?? []).length > 0 }).toEqual({ title: p.title, targets: true });
    }
  });

  test('every metric a query or variable names exists (catalogue, native list, recording rules)', () => {
    const exprs = [...queriesOf(d).map((q) => q.expr), ...d.templating.list.map((v) => variableSelector(v))];
    const missing = exprs.flatMap((expr) => metricNames(expr).filter((n) => !exists(n)).map((n) => `${n} in ${expr}`));
    expect(missing).toEqual([]);
  });

  test('counters appear only inside rate(), irate() or increase()', () => {
    const bare = queriesOf(d).flatMap(({ expr }) =>
      selectors(expr)
        .filter((s) => known.get(s.metric)?.kind === 'counter' && !COUNTER_FUNCTIONS.has(s.enclosingFunction ?? ''))
        .map((s) => `${s.metric} in ${expr}`),
    );
    expect(bare).toEqual([]);
  });

  test('every selector is narrowed by the host and instance variables (and zone where the dashboard has it)', () => {
    const hasZone = d.templating.list.some((v) => v.name === 'zone');
    const unfiltered: string[] = [];
    for (const { expr } of queriesOf(d)) {
      for (const s of selectors(expr)) {
        if (s.metric === 'ALERTS') continue; // alerts of the whole Prometheus, some without a host label
        if (!s.matchers.includes('host=~"$host"') || !s.matchers.includes('instance=~"$instance"')) unfiltered.push(`${s.metric} in ${expr}`);
        const labels = known.get(s.metric)?.labels ?? [];
        if (hasZone && labels.includes('zone') && !s.matchers.includes('zone=~"$zone"')) unfiltered.push(`${s.metric} without $zone in ${expr}`);
      }
    }
    expect(unfiltered).toEqual([]);
  });
});

describe('runbook links', () => {
  const alerts = alertRules();
  const alertNames = new Set(alerts.map((a) => a.alert));
  const recorded = new Map(recordingRules().map((r) => [r.record, r.expr]));
  /** Metrics an alert reads, through the recording rules it uses. */
  const alertMetrics = (name: string): string[] =>
    alerts
      .filter((a) => a.alert === name)
      .flatMap((a) => metricNames(a.expr))
      .flatMap((m) => (recorded.has(m) ? [m, ...metricNames(recorded.get(m)!)] : [m]));
  /** GitHub's anchors of the headings of docs/runbooks.md. */
  const runbookAnchors = (): Set<string> =>
    new Set(
      [...readFileSync(join(ROOT, 'docs', 'runbooks.md'), 'utf8').matchAll(/^#+\s+(.+)$/gm)].map((m) =>
        m[1]
          .trim()
          .toLowerCase()
          .replace(/[^\p{L}\p{N}\s_-]/gu, '')
          .replace(/\s/g, '-'),
      ),
    );
  const links = dashboards.flatMap((d) =>
    panelsOf(d).flatMap((p) => (p.links ?? []).filter((l) => l.url.startsWith(`${RUNBOOK_URL}#`)).map((l) => ({ d, p, anchor: l.url.split('#')[1] }))),
  );

  test('every runbook link points at an alert of prometheus/rules and a heading of docs/runbooks.md', () => {
    expect(links.length).toBeGreaterThan(0);
    const anchors = runbookAnchors();
    for (const { anchor } of links) {
      expect([...alertNames].some((a) => a.toLowerCase() === anchor) ? anchor : `no alert for #${anchor}`).toBe(anchor);
      expect(anchors.has(anchor) ? anchor : `no heading for #${anchor} in docs/runbooks.md`).toBe(anchor);
    }
  });

  test('every alert has a panel linking its runbook', () => {
    const linked = new Set(links.map((l) => l.anchor));
    expect([...alertNames].filter((a) => !linked.has(a.toLowerCase()))).toEqual([]);
  });

  test('a panel linking an alert shows a metric that alert reads', () => {
    const unrelated: string[] = [];
    for (const { d, p, anchor } of links) {
      const alert = [...alertNames].find((a) => a.toLowerCase() === anchor)!;
      const alertReads = alertMetrics(alert).map((m) => new RegExp(`^(?:${m})$`));
      if (alertReads.length === 0) continue; // reads no metric (the always-firing Watchdog): the link is enough
      const shown = (p.targets ?? []).flatMap((t) => metricNames(t.expr));
      if (!shown.some((m) => alertReads.some((r) => r.test(m)))) unrelated.push(`${d.uid} "${p.title}" -> ${alert}`);
    }
    expect(unrelated).toEqual([]);
  });
});
