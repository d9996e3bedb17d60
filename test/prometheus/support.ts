/** What the Prometheus and Alertmanager tests share: the shipped files, promtool/amtool, real servers started on free ports. */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import yaml from 'js-yaml';

export const ROOT = join(__dirname, '..', '..');
export const PROMETHEUS_DIR = join(ROOT, 'prometheus');
export const ALERTMANAGER_DIR = join(ROOT, 'alertmanager');

export function readYaml<T = unknown>(path: string): T {
  return yaml.load(readFileSync(path, 'utf8')) as T;
}

export interface ToolResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command line tool to completion (promtool, amtool). */
export function tool(command: string, args: string[], cwd = ROOT): ToolResult {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

// ---------------------------------------------------------------- rules

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
export interface RecordingRule {
  record: string;
  expr: string;
}
export interface RuleFile<R> {
  groups: { name: string; rules: R[] }[];
}

/** Every rule file (prometheus.yml loads `rules/*.yml`), and every promtool test file, by name. */
export const ruleFiles = (): string[] => readdirSync(join(PROMETHEUS_DIR, 'rules')).filter((f) => f.endsWith('.yml')).sort();
export const ruleTestFiles = (): string[] => readdirSync(join(PROMETHEUS_DIR, 'tests')).filter((f) => f.endsWith('.test.yml')).sort();

function rulesOfAllFiles(): (AlertRule | RecordingRule)[] {
  return ruleFiles().flatMap((f) => (readYaml<RuleFile<AlertRule | RecordingRule>>(join(PROMETHEUS_DIR, 'rules', f)).groups ?? []).flatMap((g) => g.rules));
}
export function alertRules(): AlertRule[] {
  return rulesOfAllFiles().filter((r): r is AlertRule => 'alert' in r);
}
export function recordingRules(): RecordingRule[] {
  return rulesOfAllFiles().filter((r): r is RecordingRule => 'record' in r);
}

const PROMQL_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

/**
 * The metric names a PromQL expression selects: plain names, and `{__name__=~"re"}` regexes. Not a full parser:
 * enough for the rules of this repository, and tested on literal expressions.
 */
export function promqlSelectors(expr: string): { names: string[]; nameRegexes: string[] } {
  const nameRegexes = [...expr.matchAll(/__name__\s*=~\s*"([^"]*)"/g)].map((m) => m[1]);
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""') // strings (label values, label_replace arguments)
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ') // grouping label lists
    .replace(/\[[^\]]*\]/g, ' ') // range and subquery durations
    .replace(/\boffset\s+\S+/g, ' ');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/(?<![\w:.])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])(\s*\()?/g)) {
    if (m[2]) continue; // a function call
    if (PROMQL_KEYWORDS.has(m[1].toLowerCase())) continue;
    names.add(m[1]);
  }
  return { names: [...names], nameRegexes };
}

/** The label names each `metric{...}` selector of an expression matches on. */
export function promqlMatcherLabels(expr: string): { name: string; labels: string[] }[] {
  return [...expr.matchAll(/(?<![\w:])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}/g)].map((m) => ({
    name: m[1],
    labels: [...m[2].matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)\s*"/g)].map((l) => l[1]),
  }));
}

/** Every metric name documented in prometheus/native-metrics.txt (histogram series included), with its labels. */
export function nativeMetricNames(): Map<string, { block: string; labels: string[] }> {
  const names = new Map<string, { block: string; labels: string[] }>();
  let block = '';
  for (const line of readFileSync(join(PROMETHEUS_DIR, 'native-metrics.txt'), 'utf8').split('\n')) {
    if (line.startsWith('## ')) block = line.slice(3).trim();
    if (line.startsWith('#') || !line.trim()) continue;
    const [name, type, labels] = line.trim().split(/\s+/);
    const entry = { block, labels: labels ? labels.split(',') : [] };
    names.set(name, entry);
    if (type === 'histogram') {
      names.set(`${name}_bucket`, { block, labels: [...entry.labels, 'le'] });
      for (const s of ['_sum', '_count']) names.set(name + s, entry);
    }
  }
  return names;
}

// ---------------------------------------------------------------- servers

export async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

export interface Daemon {
  process: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** Starts a long-running program; stop() sends SIGTERM and waits for it to exit. */
export function startDaemon(command: string, args: string[], cwd = ROOT): Daemon {
  const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  const exited = once(child, 'exit');
  return {
    process: child,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

/** Polls `check` (an HTTP API, not a sleep) until it returns a value, or fails with `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export async function getJson<T = any>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

/** A request the receiver recorded: its path, its headers and its body (parsed when it is JSON). */
export interface Post {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: any;
}

/** An HTTP server that records every POST body (Alertmanager webhook and Slack-style receivers). */
export interface Receiver {
  url: string;
  posts: Post[];
  /** Resolves with the first post (already received or future) that matches. */
  waitFor(match: (post: Post) => boolean, timeoutMs?: number): Promise<Post>;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const posts: Post[] = [];
  const waiters: { match: (p: Post) => boolean; resolve: (p: Post) => void }[] = [];
  const server = http.createServer((req, res) => {
    let data = '';
    req.on('data', (d) => (data += d));
    req.on('end', () => {
      let body: any = data;
      try {
        body = JSON.parse(data);
      } catch {
        // keep the raw text
      }
      const post = { path: req.url ?? '', headers: req.headers, body };
      posts.push(post);
      for (const w of [...waiters]) {
        if (w.match(post)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(post);
        }
      }
      res.end('ok');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    posts,
    waitFor(match, timeoutMs = 30_000) {
      const found = posts.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const waiter = { match, resolve: (p: Post) => (clearTimeout(timer), resolve(p)) };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`no matching post within ${timeoutMs} ms; got: ${JSON.stringify(posts).slice(0, 2000)}`));
        }, timeoutMs);
        waiters.push(waiter);
      });
    },
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

// ---------------------------------------------------------------- Alertmanager with the shipped routing

export interface RunningAlertmanager {
  url: string;
  daemon: Daemon;
  stop(): Promise<void>;
}

/**
 * The shipped alertmanager.yml made runnable here: routes, inhibitions and templates unchanged; the pager keeps its
 * PagerDuty receiver (pointed at `<receiver>/pagerduty`, key read from a file) plus a webhook to `<receiver>/pager`;
 * the ticket receiver keeps its Slack config (webhook URL read from a file, `<receiver>/chat`) plus a webhook to
 * `<receiver>/ticket`; the dead man's switch keeps its webhook and authorization, pointed at `<receiver>/heartbeat`;
 * mail is left out (no SMTP server here); group_wait and group_interval shortened.
 */
export function testAlertmanagerConfig(dir: string, receiverUrl: string): string {
  const config = readYaml<any>(join(ALERTMANAGER_DIR, 'alertmanager.yml'));
  writeFileSync(join(dir, 'pagerduty_routing_key'), 'test-routing-key\n');
  writeFileSync(join(dir, 'chat_webhook_url'), `${receiverUrl}/chat\n`);
  delete config.global.smtp_auth_password_file;
  config.route.group_wait = '1s';
  config.route.group_interval = '1s';
  for (const receiver of config.receivers) {
    for (const pd of receiver.pagerduty_configs ?? []) {
      pd.url = `${receiverUrl}/pagerduty`;
      pd.routing_key_file = join(dir, 'pagerduty_routing_key');
    }
    if (receiver.pagerduty_configs) receiver.webhook_configs = [{ url: `${receiverUrl}/pager`, send_resolved: true }];
    for (const slack of receiver.slack_configs ?? []) slack.api_url_file = join(dir, 'chat_webhook_url');
    if (receiver.slack_configs) receiver.webhook_configs = [{ url: `${receiverUrl}/ticket`, send_resolved: true }];
    delete receiver.email_configs;
    // The dead man's switch keeps its webhook and its authorization, pointed here with the key from a file.
    for (const hook of receiver.name === 'deadmansswitch' ? (receiver.webhook_configs ?? []) : []) {
      hook.url = `${receiverUrl}/heartbeat`;
      hook.http_config.authorization.credentials_file = join(dir, 'opsgenie_heartbeat_key');
    }
  }
  writeFileSync(join(dir, 'opsgenie_heartbeat_key'), 'test-heartbeat-key\n');
  config.templates = [join(ALERTMANAGER_DIR, 'templates', '*.tmpl')];
  const file = join(dir, 'alertmanager.yml');
  writeFileSync(file, yaml.dump(config));
  return file;
}

/** Starts Debian's prometheus-alertmanager on a free port (no cluster) and waits until it is ready. */
export async function startAlertmanager(dir: string, configFile: string): Promise<RunningAlertmanager> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const daemon = startDaemon('prometheus-alertmanager', [
    `--config.file=${configFile}`,
    `--storage.path=${join(dir, 'am-data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--cluster.listen-address=',
  ]);
  try {
    await waitFor('alertmanager ready', async () => ((await fetch(`${url}/-/ready`)).ok ? true : undefined), 20_000, 100);
  } catch (err) {
    await daemon.stop();
    throw new Error(`${String(err)}\n${daemon.output()}`);
  }
  return { url, daemon, stop: () => daemon.stop() };
}
