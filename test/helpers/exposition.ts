/**
 * Reading Prometheus text exposition (format 0.0.4) in tests: parse it, look samples up by name and labels,
 * and scrape an HTTP endpoint, once or until a condition holds.
 *
 * Every lookup takes either the text itself or the samples parsed from it (an `Exposition`).
 */

export interface Sample {
  name: string;
  /** Label values unescaped (`\"` -> `"`, `\\` -> `\`, `\n` -> newline). */
  labels: Record<string, string>;
  value: number;
}

export type Exposition = string | readonly Sample[];

const NAME = /[a-zA-Z_:][a-zA-Z0-9_:]*/y;
const LABEL_NAME = /[a-zA-Z_][a-zA-Z0-9_]*/y;
const ESCAPES: Record<string, string> = { '\\': '\\', '"': '"', n: '\n' };

/** Parses every sample line; a line that is not valid exposition format throws, naming the line. */
export function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '' || line.startsWith('#')) return;
    try {
      samples.push(parseLine(line));
    } catch (err) {
      throw new Error(`exposition line ${i + 1}: ${(err as Error).message}: ${JSON.stringify(line)}`);
    }
  });
  return samples;
}

function parseLine(line: string): Sample {
  let pos = 0;
  const match = (re: RegExp): string | undefined => {
    re.lastIndex = pos;
    const m = re.exec(line);
    if (m) pos += m[0].length;
    return m?.[0];
  };
  /** Skips blanks; says whether there were any. */
  const skipSpaces = (): boolean => {
    const start = pos;
    while (line[pos] === ' ' || line[pos] === '\t') pos++;
    return pos > start;
  };

  const name = match(NAME);
  if (!name) throw new Error('no metric name');
  const labels: Record<string, string> = {};
  let spaced = skipSpaces();
  if (line[pos] === '{') {
    pos++;
    for (;;) {
      skipSpaces();
      if (line[pos] === '}') break;
      const label = match(LABEL_NAME);
      if (!label) throw new Error(`bad label name at column ${pos + 1}`);
      if (Object.hasOwn(labels, label)) throw new Error(`label ${label} given twice`);
      skipSpaces();
      if (line[pos] !== '=') throw new Error(`expected = after ${label}`);
      pos++;
      skipSpaces();
      if (line[pos] !== '"') throw new Error(`expected a quoted value for ${label}`);
      pos++;
      let value = '';
      while (line[pos] !== '"') {
        if (pos >= line.length) throw new Error(`unterminated value of ${label}`);
        if (line[pos] === '\\') {
          const escaped = ESCAPES[line[pos + 1] ?? ''];
          if (escaped === undefined) throw new Error(`bad escape in value of ${label}`);
          value += escaped;
          pos += 2;
        } else {
          value += line[pos++];
        }
      }
      pos++;
      labels[label] = value;
      skipSpaces();
      if (line[pos] === ',') pos++;
      else if (line[pos] !== '}') throw new Error(`expected , or } after ${label}`);
    }
    pos++;
    spaced = skipSpaces();
  }
  if (!spaced) throw new Error(`expected a blank before the value at column ${pos + 1}`);
  // The value, then an optional timestamp (milliseconds).
  const rest = line.slice(pos).trimEnd().split(/[ \t]+/);
  if (rest[0] === '' || rest.length > 2) throw new Error('expected a value and at most a timestamp');
  if (rest.length === 2 && !/^-?\d+$/.test(rest[1]!)) throw new Error(`bad timestamp ${rest[1]}`);
  return { name, labels, value: parseValue(rest[0]!) };
}

/** As Prometheus reads it (Go's ParseFloat): NaN and Inf in any case; prom-client writes `Nan`. */
function parseValue(token: string): number {
  const special = /^([+-]?)(nan|inf|infinity)$/i.exec(token);
  if (special) return special[2]!.toLowerCase() === 'nan' ? NaN : special[1] === '-' ? -Infinity : Infinity;
  const value = Number(token);
  if (Number.isNaN(value)) throw new Error(`bad value ${token}`);
  return value;
}

// Tests look up many samples in the same text: parse it once.
let cached: { text: string; samples: Sample[] } | undefined;
function samplesOf(exposition: Exposition): readonly Sample[] {
  if (typeof exposition !== 'string') return exposition;
  if (cached?.text !== exposition) cached = { text: exposition, samples: parseExposition(exposition) };
  return cached.samples;
}

function hasLabels(s: Sample, wanted: Record<string, string>): boolean {
  return Object.entries(wanted).every(([k, v]) => Object.hasOwn(s.labels, k) && s.labels[k] === v);
}

/** The value of the series `name` whose label set is exactly `labels` (any order); undefined when absent. */
export function sample(exposition: Exposition, name: string, labels: Record<string, string> = {}): number | undefined {
  const count = Object.keys(labels).length;
  return samplesOf(exposition).find((s) => s.name === name && Object.keys(s.labels).length === count && hasLabels(s, labels))?.value;
}

/** Sum over the series of `name` whose labels include `match` (0 when there is none). */
export function total(exposition: Exposition, name: string, match: Record<string, string> = {}): number {
  return samplesOf(exposition)
    .filter((s) => s.name === name && hasLabels(s, match))
    .reduce((sum, s) => sum + s.value, 0);
}

/** The values `label` takes in the series of `name`. */
export function labelValues(exposition: Exposition, name: string, label: string): Set<string> {
  return new Set(samplesOf(exposition).filter((s) => s.name === name && Object.hasOwn(s.labels, label)).map((s) => s.labels[label]!));
}

export interface ScrapeOptions {
  /** Sent as X-Prometheus-Scrape-Timeout-Seconds, as Prometheus does. */
  timeoutSeconds?: number;
}

export interface Scrape {
  status: number;
  text: string;
  /** How long the request took, headers to last byte. */
  ms: number;
}

/** GETs `url` (the full /metrics address); rejects unless the answer is HTTP 200. */
export async function scrape(url: string, opts: ScrapeOptions = {}): Promise<Scrape> {
  const headers: Record<string, string> =
    opts.timeoutSeconds !== undefined ? { 'X-Prometheus-Scrape-Timeout-Seconds': String(opts.timeoutSeconds) } : {};
  const started = performance.now();
  const res = await fetch(url, { headers });
  const text = await res.text();
  const ms = performance.now() - started;
  if (res.status !== 200) throw new Error(`GET ${url}: HTTP ${res.status}\n${text.slice(0, 2000)}`);
  return { status: res.status, text, ms };
}

/**
 * Scrapes `url` until `ready(text)` holds and returns that text; rejects with the last scrape once
 * `timeoutMs` has passed. For what has no event to wait on (background scans, datagrams, worker IPC).
 */
export async function scrapeUntil(url: string, ready: (text: string) => boolean, timeoutMs = 5000, intervalMs = 20): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { text } = await scrape(url);
    if (ready(text)) return text;
    if (Date.now() > deadline) throw new Error(`scrapeUntil: condition not met within ${timeoutMs} ms; last scrape of ${url}:\n${text}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
