import { Registry } from 'prom-client';
import { CollectorRunner, withDeadline, CollectorTimeoutError } from '../../exporters/kit/collectors';
import type { ScrapeContext } from '../../exporters/kit/exporter';
import { silentLogger } from '../../exporters/kit/log';

function ctx(timeoutMs: number): ScrapeContext {
  return { timeoutMs, deadline: Date.now() + timeoutMs, signal: new AbortController().signal };
}

describe('CollectorRunner', () => {
  test('one slow and one failing collector do not take the others down', async () => {
    const registry = new Registry();
    let slowAborted = false;
    const runner = new CollectorRunner('demo', registry, [
      { name: 'fast', collect: async () => undefined },
      { name: 'broken', collect: async () => { throw new Error('boom'); } },
      {
        name: 'slow',
        collect: (c) => new Promise((resolve) => c.signal.addEventListener('abort', () => { slowAborted = true; resolve(); })),
      },
    ], silentLogger);
    const t0 = Date.now();
    const failed = await runner.run(ctx(200));
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(failed.sort()).toEqual(['broken', 'slow']);
    expect(slowAborted).toBe(true);
    const text = await registry.metrics();
    expect(text).toMatch(/^demo_scrape_collector_success\{collector="fast"\} 1$/m);
    expect(text).toMatch(/^demo_scrape_collector_success\{collector="broken"\} 0$/m);
    expect(text).toMatch(/^demo_scrape_collector_success\{collector="slow"\} 0$/m);
    expect(text).toMatch(/^demo_scrape_collector_duration_seconds\{collector="slow"\} 0\.[12]\d*$/m);
  });

  test('withDeadline resolves in time and rejects late work', async () => {
    await expect(withDeadline(100, async () => 7)).resolves.toBe(7);
    await expect(withDeadline(20, () => new Promise((r) => setTimeout(r, 200)))).rejects.toBeInstanceOf(CollectorTimeoutError);
  });
});
