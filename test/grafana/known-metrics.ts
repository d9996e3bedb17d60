/**
 * The metric names a dashboard may query, with their types and labels: this repository's exporters and plugins
 * (scripts/metric-catalogue.ts, read from the real registries), the native metrics of the mail daemons and
 * standard exporters (prometheus/native-metrics.txt), the recording rules of prometheus/rules, and the series
 * Prometheus makes itself (ALERTS).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { metricCatalogue, seriesNames } from '../../scripts/metric-catalogue';

export const ROOT = join(__dirname, '..', '..');

export interface KnownSeries {
  /** Where it comes from: our component name, "native <source>", "recording rule" or "prometheus". */
  source: string;
  /** counter (including histogram _bucket/_sum/_count series), gauge, or unknown. */
  kind: 'counter' | 'gauge' | 'unknown';
  labels: string[];
}

export interface AlertRule {
  alert: string;
  expr: string;
}

interface RuleFile {
  groups: { rules: { alert?: string; record?: string; expr: string }[] }[];
}

function ruleFiles(): RuleFile[] {
  const dir = join(ROOT, 'prometheus', 'rules');
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => yaml.load(readFileSync(join(dir, f), 'utf8')) as RuleFile);
}

export function alertRules(): AlertRule[] {
  return ruleFiles().flatMap((f) => f.groups.flatMap((g) => g.rules.filter((r) => r.alert).map((r) => ({ alert: r.alert!, expr: r.expr }))));
}

export function recordingRules(): { record: string; expr: string }[] {
  return ruleFiles().flatMap((f) => f.groups.flatMap((g) => g.rules.filter((r) => r.record).map((r) => ({ record: r.record!, expr: r.expr }))));
}

/** prometheus/native-metrics.txt: "## <source>" blocks of "<name> <type> [labels,comma,separated]" lines. */
export function nativeMetrics(): Map<string, KnownSeries> {
  const known = new Map<string, KnownSeries>();
  let source = 'native';
  for (const line of readFileSync(join(ROOT, 'prometheus', 'native-metrics.txt'), 'utf8').split('\n')) {
    if (line.startsWith('## ')) source = `native ${line.slice(3).trim()}`;
    if (!line.trim() || line.startsWith('#')) continue;
    const [name, type, labels] = line.trim().split(/\s+/);
    const labelList = labels ? labels.split(',') : [];
    if (type === 'histogram') {
      for (const s of ['_bucket', '_sum', '_count']) known.set(name + s, { source, kind: 'counter', labels: labelList });
    } else {
      known.set(name, { source, kind: type === 'counter' ? 'counter' : type === 'gauge' ? 'gauge' : 'unknown', labels: labelList });
    }
  }
  return known;
}

/** Every series name a query may use, and what it is. */
export function knownSeries(): Map<string, KnownSeries> {
  const known = nativeMetrics();
  for (const entry of metricCatalogue()) {
    for (const name of seriesNames(entry)) {
      const counterLike = entry.type === 'counter' || (name !== entry.name && /_(bucket|sum|count)$/.test(name));
      known.set(name, { source: entry.component, kind: counterLike ? 'counter' : 'gauge', labels: entry.labels });
    }
  }
  for (const r of recordingRules()) known.set(r.record, { source: 'recording rule', kind: 'gauge', labels: [] });
  for (const name of ['ALERTS', 'ALERTS_FOR_STATE']) known.set(name, { source: 'prometheus', kind: 'gauge', labels: ['alertname', 'alertstate', 'severity'] });
  return known;
}

/** Our own metrics (exporters and plugins), which must return data once the exporters run. */
export function ownSeries(): Set<string> {
  return new Set(metricCatalogue().flatMap((e) => seriesNames(e)));
}
