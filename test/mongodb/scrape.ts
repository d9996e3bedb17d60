/** Fetches /metrics and reads samples by name and labels (label order as written by prom-client). */
export interface Scrape {
  status: number;
  text: string;
  /** Value of the sample `name{labels}`; undefined when absent. */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** Every sample of a metric: serialized labels -> value. */
  series(name: string): Map<string, number>;
}

export async function scrape(url: string, timeoutSeconds?: number): Promise<Scrape & { ms: number }> {
  const started = performance.now();
  const res = await fetch(`${url}/metrics`, timeoutSeconds ? { headers: { 'X-Prometheus-Scrape-Timeout-Seconds': String(timeoutSeconds) } } : {});
  const text = await res.text();
  const ms = performance.now() - started;
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-z_:][a-z0-9_:]*)(\{.*\})? (\S+)$/.exec(line);
    if (m) samples.set(m[1] + (m[2] ?? ''), Number(m[3]));
  }
  const key = (name: string, labels?: Record<string, string>) =>
    name + (labels && Object.keys(labels).length ? `{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',')}}` : '');
  return {
    status: res.status,
    text,
    ms,
    value: (name, labels) => samples.get(key(name, labels)),
    series: (name) => new Map([...samples].filter(([k]) => k === name || k.startsWith(name + '{')).map(([k, v]) => [k.slice(name.length), v])),
  };
}
