/** Fetches /metrics and reads samples by name and labels, through test/helpers/exposition. */
import { parseExposition, sample, scrape as scrapeUrl, type Scrape as RawScrape } from '../helpers/exposition';

export interface Scrape extends RawScrape {
  /** Value of the sample `name{labels}` (exactly these labels); undefined when absent. */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** Every sample of a metric: serialized labels (as prom-client writes them, '' for none) -> value. */
  series(name: string): Map<string, number>;
}

const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const serialize = (labels: Record<string, string>) => {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escape(v)}"`);
  return pairs.length ? `{${pairs.join(',')}}` : '';
};

/** `url` is the exporter's base address; `timeoutSeconds` is sent as Prometheus's scrape timeout header. */
export async function scrape(url: string, timeoutSeconds?: number): Promise<Scrape> {
  const raw = await scrapeUrl(`${url}/metrics`, { timeoutSeconds });
  const samples = parseExposition(raw.text);
  return {
    ...raw,
    value: (name, labels) => sample(samples, name, labels),
    series: (name) => new Map(samples.filter((s) => s.name === name).map((s) => [serialize(s.labels), s.value])),
  };
}
