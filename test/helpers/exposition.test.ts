import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { labelValues, parseExposition, sample, scrape, scrapeUntil, total } from './exposition';

const TEXT = String.raw`# HELP mail_deliveries_total Deliveries by outcome.
# TYPE mail_deliveries_total counter
mail_deliveries_total{outcome="accepted",zone="default"} 12
mail_deliveries_total{outcome="deferred",zone="default"} 3
mail_deliveries_total{outcome="accepted",zone="bulk"} 5
mail_deliveries_total 99

# TYPE odd gauge
odd{text="say \"hi\", then {leave}",path="C:\\queue",multi="a\nb"} 1.5e3
odd{text="trailing comma",} -2
odd_values{kind="nan"} NaN
odd_values{kind="inf"} +Inf
odd_values{kind="neg"} -Inf
odd_values{kind="go"} nan
with_timestamp{a="1"} 7 1700000000000
spaced_out { a = "1" , b="2" }   8
`;

describe('parseExposition', () => {
  test('names, label sets with escapes, values, timestamps; comments and blank lines skipped', () => {
    const samples = parseExposition(TEXT);
    expect(samples).toHaveLength(12);
    expect(samples[0]).toEqual({ name: 'mail_deliveries_total', labels: { outcome: 'accepted', zone: 'default' }, value: 12 });
    expect(samples[3]).toEqual({ name: 'mail_deliveries_total', labels: {}, value: 99 });
    expect(samples[4]).toEqual({ name: 'odd', labels: { text: 'say "hi", then {leave}', path: 'C:\\queue', multi: 'a\nb' }, value: 1500 });
    expect(samples[5]).toEqual({ name: 'odd', labels: { text: 'trailing comma' }, value: -2 });
    expect(samples[6]!.value).toBeNaN();
    expect(samples[7]!.value).toBe(Infinity);
    expect(samples[8]!.value).toBe(-Infinity);
    expect(samples[9]!.value).toBeNaN();
    expect(samples[10]).toEqual({ name: 'with_timestamp', labels: { a: '1' }, value: 7 });
    expect(samples[11]).toEqual({ name: 'spaced_out', labels: { a: '1', b: '2' }, value: 8 });
  });

  test.each([
    ['no value', 'metric_a'],
    ['no value after labels', 'metric_a{a="1"}'],
    ['a value that is not a number', 'metric_a 12abc'],
    ['unterminated label value', 'metric_a{a="1} 2'],
    ['unknown escape', 'metric_a{a="\\t"} 2'],
    ['label without quotes', 'metric_a{a=1} 2'],
    ['label given twice', 'metric_a{a="1",a="2"} 2'],
    ['bad metric name', '1metric 2'],
    ['bad timestamp', 'metric_a 2 soon'],
    ['too many fields', 'metric_a 2 3 4'],
    ['nothing between labels and value', 'metric_a{a="1"}2'],
  ])('rejects %s, naming the line', (_what, line) => {
    expect(() => parseExposition(`# TYPE metric_a gauge\n${line}\n`)).toThrow(/^exposition line 2: .*: "/);
  });

  test('reads back what prom-client writes, label values with quotes, backslashes and newlines included', async () => {
    const registry = new Registry();
    const counter = new Counter({ name: 't_events_total', help: 'h', labelNames: ['what'], registers: [registry] });
    const gauge = new Gauge({ name: 't_level', help: 'h', registers: [registry] });
    const histogram = new Histogram({ name: 't_seconds', help: 'h', labelNames: ['op'], buckets: [0.1, 1], registers: [registry] });
    counter.inc({ what: 'a "quoted" \\ value\nover two lines' }, 3);
    counter.inc({ what: 'plain' });
    gauge.set(NaN);
    histogram.observe({ op: 'x' }, 0.5);
    histogram.observe({ op: 'x' }, 5);
    const text = await registry.metrics();

    expect(sample(text, 't_events_total', { what: 'a "quoted" \\ value\nover two lines' })).toBe(3);
    expect(sample(text, 't_events_total', { what: 'plain' })).toBe(1);
    expect(text).toMatch(/^t_level Nan$/m); // prom-client's spelling, which Prometheus accepts
    expect(sample(text, 't_level')).toBeNaN();
    expect(sample(text, 't_seconds_bucket', { op: 'x', le: '0.1' })).toBe(0);
    expect(sample(text, 't_seconds_bucket', { le: '+Inf', op: 'x' })).toBe(2);
    expect(sample(text, 't_seconds_sum', { op: 'x' })).toBe(5.5);
    expect(labelValues(text, 't_seconds_bucket', 'le')).toEqual(new Set(['0.1', '1', '+Inf']));
  });
});

describe('lookups', () => {
  test('sample: the exact label set, in any order; undefined when absent', () => {
    expect(sample(TEXT, 'mail_deliveries_total', { outcome: 'accepted', zone: 'bulk' })).toBe(5);
    expect(sample(TEXT, 'mail_deliveries_total', { zone: 'bulk', outcome: 'accepted' })).toBe(5);
    expect(sample(TEXT, 'mail_deliveries_total')).toBe(99); // only the series without labels
    expect(sample(TEXT, 'mail_deliveries_total', { outcome: 'accepted' })).toBeUndefined(); // a subset is not a match
    expect(sample(TEXT, 'mail_deliveries_total', { outcome: 'accepted', zone: 'bulk', extra: 'x' })).toBeUndefined();
    expect(sample(TEXT, 'mail_deliveries', { outcome: 'accepted', zone: 'bulk' })).toBeUndefined(); // names are not prefixes
    expect(sample(TEXT, 'odd', { text: 'trailing comma' })).toBe(-2);
    expect(sample('', 'anything')).toBeUndefined();
  });

  test('total: the sum over every series whose labels include the given ones', () => {
    expect(total(TEXT, 'mail_deliveries_total')).toBe(12 + 3 + 5 + 99);
    expect(total(TEXT, 'mail_deliveries_total', { outcome: 'accepted' })).toBe(17);
    expect(total(TEXT, 'mail_deliveries_total', { zone: 'default', outcome: 'deferred' })).toBe(3);
    expect(total(TEXT, 'mail_deliveries_total', { outcome: 'bounced' })).toBe(0);
    expect(total(TEXT, 'no_such_metric')).toBe(0);
  });

  test('labelValues: the values one label takes in a metric', () => {
    expect(labelValues(TEXT, 'mail_deliveries_total', 'zone')).toEqual(new Set(['default', 'bulk']));
    expect(labelValues(TEXT, 'odd', 'text')).toEqual(new Set(['say "hi", then {leave}', 'trailing comma']));
    expect(labelValues(TEXT, 'odd', 'nope')).toEqual(new Set());
  });

  test('the same lookups on samples parsed beforehand', () => {
    const samples = parseExposition(TEXT);
    expect(sample(samples, 'odd_values', { kind: 'inf' })).toBe(Infinity);
    expect(total(samples, 'mail_deliveries_total', { zone: 'default' })).toBe(15);
    expect(labelValues(samples, 'odd_values', 'kind')).toEqual(new Set(['nan', 'inf', 'neg', 'go']));
  });
});

describe('scrape and scrapeUntil against a local HTTP server', () => {
  let server: Server;
  let url: string;
  let requests: IncomingHttpHeaders[];
  let status: number;

  beforeEach(async () => {
    requests = [];
    status = 200;
    server = createServer((req, res) => {
      requests.push(req.headers);
      res.writeHead(status, { 'Content-Type': 'text/plain; version=0.0.4' });
      res.end(`# TYPE scrapes_total counter\nscrapes_total ${requests.length}\n`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/metrics`;
  });
  afterEach(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test('scrape returns status, text and duration; the timeout header only when asked for', async () => {
    const first = await scrape(url);
    expect(first.status).toBe(200);
    expect(sample(first.text, 'scrapes_total')).toBe(1);
    expect(first.ms).toBeGreaterThan(0);
    expect(requests[0]!['x-prometheus-scrape-timeout-seconds']).toBeUndefined();

    await scrape(url, { timeoutSeconds: 2.5 });
    expect(requests[1]!['x-prometheus-scrape-timeout-seconds']).toBe('2.5');
  });

  test('scrape rejects an answer other than HTTP 200', async () => {
    status = 503;
    await expect(scrape(url)).rejects.toThrow(/HTTP 503\nscrapes_total|HTTP 503\n# TYPE/);
  });

  test('scrapeUntil returns the first scrape that satisfies the condition', async () => {
    const text = await scrapeUntil(url, (t) => sample(t, 'scrapes_total')! >= 3, 5000, 1);
    expect(sample(text, 'scrapes_total')).toBe(3);
    expect(requests).toHaveLength(3);
  });

  test('scrapeUntil rejects after the timeout, showing the last scrape', async () => {
    await expect(scrapeUntil(url, () => false, 50, 5)).rejects.toThrow(/condition not met within 50 ms; last scrape of .*\n# TYPE scrapes_total counter\nscrapes_total \d+/);
    expect(requests.length).toBeGreaterThan(1);
  });
});
