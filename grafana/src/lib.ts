/**
 * The few shapes every tinomail dashboard is made of, on top of @grafana/grafana-foundation-sdk: a dashboard with a
 * Prometheus datasource variable, optional label variables (instance, zone), rows of panels, and panels that always
 * carry a title, a description and a unit. Alert-related panels carry a link to their runbook entry.
 */
import * as common from '@grafana/grafana-foundation-sdk/common';
import {
  DashboardBuilder,
  DashboardCursorSync,
  DashboardLinkBuilder,
  DashboardLinkType,
  DatasourceVariableBuilder,
  QueryVariableBuilder,
  RowBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  VariableRefresh,
  VariableSort,
  type Dashboard,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder, PromQueryFormat } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanelBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TablePanelBuilder } from '@grafana/grafana-foundation-sdk/table';
import { PanelBuilder as TimeseriesPanelBuilder } from '@grafana/grafana-foundation-sdk/timeseries';

/** Every panel and variable queries the Prometheus chosen in the `datasource` variable. */
export const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

/** Where docs/runbooks.md is read in a browser; alert-related panels link to one of its headings. */
export const RUNBOOK_URL = 'https://github.com/tinomail/tinomail-monitor/blob/main/docs/runbooks.md';

/** Tag shared by every dashboard: the dashboards link to each other through it. */
export const TAG = 'tinomail';

export interface Query {
  expr: string;
  /** Legend, with {{label}} placeholders. */
  legend?: string;
}

export interface PanelSpec {
  title: string;
  /** What the panel shows, what feeds it, and what a bad value means. */
  description: string;
  /** A Grafana unit id: short, percentunit, s, bytes, reqps, ops, ... */
  unit: string;
  queries: Query[];
  /** Alerts this panel is about: a link to each one's runbook entry (the alert name is the heading). */
  alerts?: string[];
  /** A link to the runbooks page as a whole (panels listing every alert). */
  runbooks?: boolean;
  /** Grid width out of 24 (default 12) and height (default 8). */
  width?: number;
  height?: number;
  /** Time series only: stack the series (shares of a whole). */
  stacked?: boolean;
  /** Stat only: value at or above which the panel turns orange / red. */
  warnAt?: number;
  criticalAt?: number;
  /** Stat only: value below which the panel is red (e.g. up, primary present), and orange. */
  criticalBelow?: number;
  warnBelow?: number;
  min?: number;
  max?: number;
}

export type PanelKind = 'timeseries' | 'stat' | 'table';

export interface Panel extends PanelSpec {
  kind: PanelKind;
}

export const timeseries = (spec: PanelSpec): Panel => ({ kind: 'timeseries', ...spec });
export const stat = (spec: PanelSpec): Panel => ({ kind: 'stat', width: 6, height: 5, ...spec });
export const table = (spec: PanelSpec): Panel => ({ kind: 'table', width: 24, ...spec });

export interface Row {
  title: string;
  panels: Panel[];
}

/** A dashboard variable read from a label of some series (host, zone, ...). */
export interface LabelVariable {
  name: string;
  label: string;
  /** A series selector whose label values fill the list. */
  selector: string;
  description: string;
}

/**
 * The site, the mail host and the scrape target. Several sites writing to one store (docs/multisite.md) tell their
 * series apart by the `site` label their Prometheus adds (external_labels); a single Prometheus has none, the Site
 * list is then empty and its "All" (.*) also matches series without the label, so nothing changes there.
 * prometheus/prometheus.yml gives every series a `host` label (set in the targets file, else the target address
 * without its port), so one host choice covers every exporter, plugin and native endpoint on that machine;
 * `instance` then narrows to one target of the chosen hosts.
 */
export function hostVariables(selector: string): LabelVariable[] {
  const narrowed = (matchers: string) => (selector.startsWith('{') ? `{${matchers}, ${selector.slice(1)}` : `${selector}{${matchers}}`);
  return [
    { name: 'site', label: 'Site', selector, description: 'Site (the site label of external_labels, when several Prometheus write to one store; empty with one Prometheus).' },
    { name: 'host', label: 'Host', selector: narrowed(SITE), description: 'Mail host (the host label prometheus/prometheus.yml sets on every target).' },
    { name: 'instance', label: 'Instance', selector: narrowed(`${SITE}, host=~"$host"`), description: 'Scrape target (address:port) on the chosen hosts.' },
  ];
}

/** Label matcher for the `site` variable: every selector carries it, through HOST. */
export const SITE = 'site=~"$site"';
/** Label matchers for the `site`, `host` and `instance` variables. */
export const HOST = `${SITE}, host=~"$host", instance=~"$instance"`;

/** The ZoneMTA sending zone variable (zones of the chosen hosts), and its matcher. */
export function zoneVariable(metricsRegex: string): LabelVariable {
  return {
    name: 'zone',
    label: 'Sending zone',
    selector: `{__name__=~"${metricsRegex}", ${SITE}, host=~"$host"}`,
    description: 'ZoneMTA sending zone (the zones section of the ZoneMTA config).',
  };
}
export const ZONE = 'zone=~"$zone"';

export interface DashboardSpec {
  uid: string;
  title: string;
  description: string;
  variables: LabelVariable[];
  rows: Row[];
}

/** Alert names become runbook anchors the way GitHub renders `## AlertName` headings. */
export function runbookLink(alert: string): string {
  return `${RUNBOOK_URL}#${alert.toLowerCase()}`;
}

function thresholds(p: Panel): ThresholdsConfigBuilder {
  const steps: { value: number | null; color: string }[] = [];
  if (p.criticalBelow !== undefined) {
    steps.push({ value: null, color: 'red' });
    if (p.warnBelow !== undefined) steps.push({ value: p.criticalBelow, color: 'orange' }, { value: p.warnBelow, color: 'green' });
    else steps.push({ value: p.criticalBelow, color: 'green' });
  } else {
    steps.push({ value: null, color: 'green' });
    if (p.warnAt !== undefined) steps.push({ value: p.warnAt, color: 'orange' });
    if (p.criticalAt !== undefined) steps.push({ value: p.criticalAt, color: 'red' });
  }
  return new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps(steps);
}

function targets(p: Panel): DataqueryBuilder[] {
  return p.queries.map((q, i) => {
    const target = new DataqueryBuilder()
      .datasource(DATASOURCE)
      .refId(String.fromCharCode(65 + i))
      .expr(q.expr)
      .legendFormat(q.legend ?? '__auto');
    if (p.kind === 'table') target.instant().format(PromQueryFormat.Table);
    else if (p.kind === 'stat') target.instant();
    return target;
  });
}

function links(p: Panel): DashboardLinkBuilder[] {
  const all = (p.alerts ?? []).map((alert) => ({ title: `Runbook: ${alert}`, url: runbookLink(alert) }));
  if (p.runbooks) all.push({ title: 'Runbooks', url: RUNBOOK_URL });
  return all.map((l) => new DashboardLinkBuilder(l.title).type(DashboardLinkType.Link).url(l.url).targetBlank(true));
}

function buildPanel(p: Panel) {
  const w = p.width ?? 12;
  const h = p.height ?? 8;
  if (p.kind === 'stat') {
    const b = new StatPanelBuilder()
      .colorMode(common.BigValueColorMode.Value)
      .graphMode(common.BigValueGraphMode.None)
      .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']))
      .thresholds(thresholds(p));
    return finish(b, p, w, h);
  }
  if (p.kind === 'table') {
    const b = new TablePanelBuilder().withTransformation({ id: 'merge', options: {} });
    return finish(b, p, w, h);
  }
  const b = new TimeseriesPanelBuilder()
    .legend(new common.VizLegendOptionsBuilder().showLegend(true).displayMode(common.LegendDisplayMode.List).placement(common.LegendPlacement.Bottom))
    .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending))
    .fillOpacity(p.stacked ? 40 : 10)
    .lineWidth(1)
    .stacking(new common.StackingConfigBuilder().mode(p.stacked ? common.StackingMode.Normal : common.StackingMode.None));
  return finish(b, p, w, h);
}

/** What the three panel builders share. */
type AnyPanelBuilder = StatPanelBuilder | TablePanelBuilder | TimeseriesPanelBuilder;

function finish<B extends AnyPanelBuilder>(b: B, p: Panel, w: number, h: number): B {
  b.title(p.title).description(p.description).unit(p.unit).datasource(DATASOURCE).span(w).height(h).targets(targets(p));
  if (p.min !== undefined) b.min(p.min);
  if (p.max !== undefined) b.max(p.max);
  const l = links(p);
  if (l.length) b.links(l);
  return b;
}

function labelVariable(v: LabelVariable): QueryVariableBuilder {
  const query = `label_values(${v.selector}, ${v.name})`;
  return new QueryVariableBuilder(v.name)
    .label(v.label)
    .description(v.description)
    .datasource(DATASOURCE)
    .query(query)
    .definition(query)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue('.*')
    .current({ selected: true, text: 'All', value: '$__all' });
}

function withoutPlacement(link: object): void {
  delete (link as { placement?: string }).placement;
}

/** Builds the dashboard JSON: variables, rows, panels with stable ids in reading order. */
export function buildDashboard(spec: DashboardSpec): Dashboard {
  const b = new DashboardBuilder(spec.title)
    .uid(spec.uid)
    .description(spec.description)
    .tags([TAG])
    .editable()
    .tooltip(DashboardCursorSync.Crosshair)
    .refresh('1m')
    .time({ from: 'now-6h', to: 'now' })
    .timezone('browser')
    .withVariable(
      new DatasourceVariableBuilder('datasource')
        .label('Data source')
        .description('The Prometheus that scrapes the tinomail exporters, plugins and native mail metrics.')
        .type('prometheus')
        .current({ selected: true, text: 'default', value: 'default' }),
    )
    .link(new DashboardLinkBuilder('Mail dashboards').type(DashboardLinkType.Dashboards).tags([TAG]).asDropdown(true).includeVars(true).keepTime(true))
    .link(new DashboardLinkBuilder('Runbooks').type(DashboardLinkType.Link).url(RUNBOOK_URL).icon('doc').targetBlank(true));
  for (const v of spec.variables) b.withVariable(labelVariable(v));
  for (const row of spec.rows) {
    b.withRow(new RowBuilder(row.title));
    for (const panel of row.panels) b.withPanel(buildPanel(panel));
  }
  const dashboard = b.build();
  // Grafana needs unique panel ids; the SDK leaves them unset (rows get 0). Number them in order.
  let id = 1;
  for (const panel of dashboard.panels ?? []) {
    (panel as { id?: number }).id = id++;
    for (const link of (panel as { links?: object[] }).links ?? []) withoutPlacement(link);
  }
  // The SDK puts every link in Grafana 12's controls menu; leave them in the dashboard header, where all versions show them.
  for (const link of dashboard.links ?? []) withoutPlacement(link);
  dashboard.annotations = { list: [] };
  return dashboard;
}
