/** Shared by the GELF tests: start the exporter on free ports, list samples, wait for counters. */
import { Registry } from 'prom-client';
import { parseFlags } from '../../exporters/kit/flags';
import { silentLogger } from '../../exporters/kit/log';
import { definition, type GelfExporter } from '../../exporters/gelf';
import { GelfReceiver, type ReceiverOptions } from '../../exporters/gelf/receiver';
import { total } from '../helpers/exposition';

/** Every sample of a metric family with a non-zero value, as 'name{labels} value' lines (sorted). */
export function nonZero(text: string, prefix: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith(prefix) && !l.startsWith('#') && !/ 0$/.test(l))
    .sort();
}

/** The mail families (not the receiver's own packets/messages/errors), without histogram buckets. */
const MAIL_PREFIXES = ['gelf_auth_', 'gelf_imap_', 'gelf_mx_', 'gelf_mta_', 'gelf_forwards_', 'gelf_autoreplies_', 'gelf_api_', 'gelf_daily_', 'gelf_download_', 'gelf_wildduck_'];
export function mailSamples(text: string): string[] {
  return MAIL_PREFIXES.flatMap((p) => nonZero(text, p)).filter((l) => !l.includes('_bucket{')).sort();
}

/** Polls until check() is true (UDP gives no delivery event to wait on); fails after timeoutMs. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export interface StartedGelf {
  exporter: GelfExporter;
  registry: Registry;
  metrics(): Promise<string>;
  /** Total of gelf_messages_total plus gelf_decode_errors_total: every input that reached an outcome. */
  outcomes(): Promise<number>;
  stop(): Promise<void>;
}

/** Starts the GELF exporter itself (sockets included, no HTTP) on free ports of 127.0.0.1. */
export async function startGelf(extraFlags: string[] = []): Promise<StartedGelf> {
  const registry = new Registry();
  const { values } = parseFlags(['--gelf.listen-address=127.0.0.1:0', ...extraFlags], definition.flags, {});
  const exporter = definition.create({ registry, flags: values, log: silentLogger }) as GelfExporter;
  await exporter.start();
  const metrics = () => registry.metrics();
  return {
    exporter,
    registry,
    metrics,
    async outcomes() {
      const text = await metrics();
      return total(text, 'gelf_messages_total') + total(text, 'gelf_decode_errors_total');
    },
    stop: () => exporter.stop(),
  };
}

/** A receiver without sockets, with the exporter's defaults unless overridden. */
export function newReceiver(overrides: Partial<ReceiverOptions> = {}): { receiver: GelfReceiver; registry: Registry } {
  const registry = new Registry();
  const receiver = new GelfReceiver({
    registry,
    components: ['wildduck', 'mx', 'mta'],
    zones: [],
    rejectCodes: [],
    maxMessageBytes: 1024 * 1024,
    maxPendingMessages: 2000,
    maxPendingBytes: 32 * 1024 * 1024,
    ...overrides,
  });
  return { receiver, registry };
}
