/**
 * The rules: promtool accepts them and their unit tests pass; every alert carries what on-call needs and has a
 * firing and a non-firing test case; every metric a rule uses exists (this repository's catalogue or the
 * documented native metrics of ZoneMTA, WildDuck, Rspamd, node_exporter, blackbox_exporter, Prometheus and Alertmanager).
 */
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { metricCatalogue, seriesNames } from '../../scripts/metric-catalogue';
import {
  alertRules,
  nativeMetricNames,
  PROMETHEUS_DIR,
  promqlMatcherLabels,
  promqlSelectors,
  readYaml,
  recordingRules,
  ROOT,
  ruleFiles,
  ruleTestFiles,
  tool,
} from './support';

interface PromtoolTests {
  rule_files: string[];
  tests: {
    name: string;
    alert_rule_test?: { eval_time: string; alertname: string; exp_alerts: { exp_labels: Record<string, string> }[] }[];
    promql_expr_test?: { expr: string }[];
  }[];
}

const alerts = alertRules();
const recordings = recordingRules();
const alertTests = readYaml<PromtoolTests>(join(PROMETHEUS_DIR, 'tests', 'alerts.test.yml'));
// Every test file's cases: an area may keep its rules and their tests in a file of its own.
const allTests = ruleTestFiles().flatMap((f) => readYaml<PromtoolTests>(join(PROMETHEUS_DIR, 'tests', f)).tests);

describe('promtool', () => {
  test.each(ruleFiles())('check rules accepts %s', (file) => {
    const r = tool('promtool', ['check', 'rules', join('prometheus', 'rules', file)]);
    expect(r.stderr + r.stdout).toMatch(/SUCCESS: \d+ rules found/);
    expect(r.code).toBe(0);
  });

  test.each(ruleTestFiles())('test rules %s passes', (file) => {
    const r = tool('promtool', ['test', 'rules', join('prometheus', 'tests', file)]);
    expect(r.stdout + r.stderr).toContain('SUCCESS');
    expect(r.code).toBe(0);
  });

  test('the unit tests catch a broken alert (a threshold moved)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tinomail-rules-'));
    try {
      const rules = readFileSync(join(PROMETHEUS_DIR, 'rules', 'alerts.yml'), 'utf8');
      const broken = rules.replace('redis_memory_used_bytes / (redis_memory_max_bytes > 0) > 0.9', 'redis_memory_used_bytes / (redis_memory_max_bytes > 0) > 0.96');
      expect(broken).not.toBe(rules);
      writeFileSync(join(dir, 'alerts.yml'), broken);
      copyFileSync(join(PROMETHEUS_DIR, 'rules', 'recording.yml'), join(dir, 'recording.yml'));
      // Only the test of that alert, so this stays fast.
      const only = { ...alertTests, rule_files: ['recording.yml', 'alerts.yml'], tests: alertTests.tests.filter((t) => t.name === 'Redis memory near maxmemory') };
      expect(only.tests).toHaveLength(1);
      writeFileSync(join(dir, 'test.yml'), yaml.dump(only));
      expect(tool('promtool', ['test', 'rules', join(dir, 'test.yml')]).code).toBe(1);
      writeFileSync(join(dir, 'alerts.yml'), rules);
      expect(tool('promtool', ['test', 'rules', join(dir, 'test.yml')]).code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('every alert', () => {
  const runbook = readFileSync(join(ROOT, 'docs', 'runbooks.md'), 'utf8');
  // GitHub's anchors of the runbook's headings: lower case, punctuation dropped, spaces to dashes.
  const anchors = new Set([...runbook.matchAll(/^#{1,6} +(.+)$/gm)].map((m) => m[1].trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-')));

  test('there are alerts for each area the issue names', () => {
    const names = new Set(alerts.map((a) => a.alert));
    expect(names.size).toBeGreaterThanOrEqual(24);
    for (const a of alerts) expect(a.alert).toMatch(/^Tinomail[A-Z][A-Za-z0-9]+$/);
  });

  test.each(alerts.map((a) => [`${a.alert} (${a.labels?.severity})`, a]))('%s has severity, for, summary, description and a runbook entry', (_name, a) => {
    const rule = a as (typeof alerts)[number];
    expect(['critical', 'warning', 'info']).toContain(rule.labels?.severity);
    expect(rule.for).toMatch(/^\d+[smh]$/);
    expect(rule.annotations?.summary).toBeTruthy();
    expect(rule.annotations?.summary).not.toContain('{{'); // static: it groups well and reads the same every time
    expect(rule.annotations?.description).toContain('{{ $'); // templated: which host, which value
    const url = rule.annotations?.runbook_url ?? '';
    expect(url).toMatch(/\/docs\/runbooks\.md#[a-z0-9-]+$/);
    const anchor = url.split('#')[1];
    expect(anchor).toBe(rule.alert.toLowerCase());
    expect(anchors.has(anchor)).toBe(true);
  });

  test.each(alerts.map((a) => [`${a.alert} (${a.labels?.severity})`, a]))('%s has a firing and a non-firing test case', (_name, a) => {
    const rule = a as (typeof alerts)[number];
    const cases = allTests.flatMap((t) => t.alert_rule_test ?? []).filter((c) => c.alertname === rule.alert);
    const firing = cases.filter((c) => c.exp_alerts.some((e) => e.exp_labels.severity === rule.labels?.severity));
    const silent = cases.filter((c) => c.exp_alerts.length === 0);
    expect(firing.length).toBeGreaterThan(0);
    expect(silent.length).toBeGreaterThan(0);
  });

  test('every runbook entry belongs to an alert (no stale entries)', () => {
    const names = new Set(alerts.map((a) => a.alert.toLowerCase()));
    const entries = [...runbook.matchAll(/^## +(Tinomail\w+)/gm)].map((m) => m[1].toLowerCase());
    expect(entries.length).toBeGreaterThan(0);
    for (const e of entries) expect(names.has(e)).toBe(true);
  });
});

test('every recording rule is tested and named level:metric:operations', () => {
  const tested = new Set(allTests.flatMap((t) => t.promql_expr_test ?? []).map((t) => t.expr.trim()));
  for (const r of recordings) {
    expect(r.record.split(':')).toHaveLength(3);
    expect(tested.has(r.record)).toBe(true);
  }
});

describe('metric names used by the rules', () => {
  test('the extractor finds names, skips functions, keywords, labels and strings', () => {
    expect(
      promqlSelectors(
        'label_replace(sum by (host) (rate(a_total{result="x"}[5m])) / ignoring (outcome) group_left () (b:c:d > 0), "service", "$1", "job", "(.*)") and on (host) up offset 1d',
      ),
    ).toEqual({ names: ['a_total', 'b:c:d', 'up'], nameRegexes: [] });
    expect(promqlSelectors('{__name__=~".+_scrape_collector_success"} == 0')).toEqual({ names: [], nameRegexes: ['.+_scrape_collector_success'] });
    expect(promqlSelectors('(x - time()) / 86400 < 14').names).toEqual(['x']);
  });

  const catalogue = metricCatalogue();
  const ours = new Set(catalogue.flatMap((e) => seriesNames(e)));
  const native = nativeMetricNames();
  const recorded = new Set(recordings.map((r) => r.record));
  const rules = [...recordings.map((r) => ({ name: r.record, expr: r.expr })), ...alerts.map((a) => ({ name: `${a.alert} (${a.labels?.severity})`, expr: a.expr }))];

  // Labels every series gets from the scrape config (job, instance, host; module for probes; serves on Redis).
  const targetLabels = ['job', 'instance', 'host', 'module', 'serves'];
  const labelsOf = new Map<string, string[]>();
  for (const e of catalogue) for (const s of seriesNames(e)) labelsOf.set(s, s.endsWith('_bucket') ? [...e.labels, 'le'] : e.labels);
  // A name both exposes (probe_success: blackbox_exporter's and the mail probe's) has the labels of either.
  for (const [name, n] of native) labelsOf.set(name, [...new Set([...(labelsOf.get(name) ?? []), ...n.labels])]);

  test('the label extractor reads the matchers of each selector', () => {
    expect(promqlMatcherLabels('sum(rate(a_total{result=~"x|y", zone!="z"}[5m])) / b{state="deferred"} and up{job="x"}')).toEqual([
      { name: 'a_total', labels: ['result', 'zone'] },
      { name: 'b', labels: ['state'] },
      { name: 'up', labels: ['job'] },
    ]);
  });

  test.each(rules.map((r) => [r.name, r.expr]))('%s matches only on labels its metrics have', (_name, expr) => {
    for (const { name, labels } of promqlMatcherLabels(expr as string)) {
      const known = labelsOf.get(name);
      if (!known) continue; // the name test below reports it
      expect([name, labels.filter((l) => !known.includes(l) && !targetLabels.includes(l))]).toEqual([name, []]);
    }
  });

  test.each(rules.map((r) => [r.name, r.expr]))('%s uses only metrics that exist', (_name, expr) => {
    const { names, nameRegexes } = promqlSelectors(expr as string);
    const unknown = names.filter((n) => !ours.has(n) && !native.has(n) && !recorded.has(n));
    expect(unknown).toEqual([]);
    for (const re of nameRegexes) {
      const matcher = new RegExp(`^(?:${re})$`);
      expect([...ours, ...native.keys()].filter((n) => matcher.test(n)).length).toBeGreaterThan(0);
    }
  });
});

test('the shipped files need no edit to be checked from any directory (rule paths are relative to prometheus.yml)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tinomail-prom-'));
  try {
    cpSync(PROMETHEUS_DIR, join(dir, 'prometheus'), { recursive: true });
    const r = tool('promtool', ['check', 'config', join(dir, 'prometheus', 'prometheus.yml')], tmpdir());
    expect(r.stdout + r.stderr).toContain('is valid prometheus config file syntax');
    expect(r.code).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
