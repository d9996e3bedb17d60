import { Counter } from 'prom-client';
import type { ExporterDefinition, ScrapeContext } from '../../exporters/kit/exporter';
import { silentLogger } from '../../exporters/kit/log';
import { commonFlags, MAX_SCRAPE_TIMEOUT_MS, type RunningExporter, runExporter, scrapeTimeoutMs } from '../../exporters/kit/run';
import { FlagError } from '../../exporters/kit/flags';

/** A fake exporter whose target we control: up, down, slow or throwing. */
function demo(state: { mode: 'up' | 'down' | 'slow' | 'late' | 'throw'; calls: number; lastTimeout?: number; stopped?: boolean }): ExporterDefinition {
  return {
    name: 'demo',
    description: 'A demo exporter for kit tests.',
    defaultPort: 0,
    flags: [{ name: 'demo.greeting', type: 'string', default: 'hello', help: 'a greeting' }],
    create(ctx) {
      const scrapes = new Counter({ name: 'demo_scrapes_total', help: 'Scrapes seen.', labelNames: ['greeting'], registers: [ctx.registry] });
      return {
        async scrape(sc: ScrapeContext) {
          state.calls++;
          state.lastTimeout = sc.timeoutMs;
          scrapes.inc({ greeting: String(ctx.flags['demo.greeting']) });
          if (state.mode === 'throw') throw new Error('target exploded');
          if (state.mode === 'slow') await new Promise((r) => sc.signal.addEventListener('abort', r));
          // A target that answers after a little while: later than an overflowed (1 ms) deadline timer.
          if (state.mode === 'late') await new Promise((r) => setTimeout(r, 50));
          return state.mode === 'up' || state.mode === 'late';
        },
        async stop() {
          state.stopped = true;
        },
      };
    },
  };
}

describe('runExporter', () => {
  let running: RunningExporter | undefined;
  afterEach(async () => {
    await running?.stop();
    running = undefined;
  });

  test('serves metrics with up, build_info and its own metrics, plus landing, health and readiness', async () => {
    const state = { mode: 'up' as const, calls: 0 };
    running = await runExporter(demo(state), ['--web.listen-address=127.0.0.1:0', '--demo.greeting=hi'], { log: silentLogger });
    const res = await fetch(`${running.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain;.*version=0\.0\.4/);
    const body = await res.text();
    expect(body).toMatch(/^demo_up 1$/m);
    expect(body).toMatch(/^demo_build_info\{version="\d+\.\d+\.\d+",nodejs_version="v\d+[^"]*"\} 1$/m);
    expect(body).toMatch(/^demo_scrapes_total\{greeting="hi"\} 1$/m);
    expect(body).toMatch(/^# HELP demo_scrape_duration_seconds /m);
    expect(await (await fetch(`${running.url}/`)).text()).toContain('demo exporter');
    expect((await fetch(`${running.url}/-/healthy`)).status).toBe(200);
    expect((await fetch(`${running.url}/-/ready`)).status).toBe(200);
    expect((await fetch(`${running.url}/nope`)).status).toBe(404);
  });

  test('a down or throwing target is up 0 with HTTP 200, and recovers', async () => {
    const state: { mode: 'up' | 'down' | 'throw'; calls: number } = { mode: 'down', calls: 0 };
    running = await runExporter(demo(state), ['--web.listen-address=127.0.0.1:0'], { log: silentLogger });
    let res = await fetch(`${running.url}/metrics`);
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/^demo_up 0$/m);
    state.mode = 'throw';
    res = await fetch(`${running.url}/metrics`);
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/^demo_up 0$/m);
    state.mode = 'up';
    expect(await (await fetch(`${running.url}/metrics`)).text()).toMatch(/^demo_up 1$/m);
  });

  test('honours X-Prometheus-Scrape-Timeout-Seconds: a slow target answers up 0 in time', async () => {
    const state = { mode: 'slow' as const, calls: 0, lastTimeout: 0 };
    running = await runExporter(demo(state), ['--web.listen-address=127.0.0.1:0'], { log: silentLogger });
    const t0 = Date.now();
    const res = await fetch(`${running.url}/metrics`, { headers: { 'X-Prometheus-Scrape-Timeout-Seconds': '1' } });
    const elapsed = Date.now() - t0;
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/^demo_up 0$/m);
    expect(state.lastTimeout).toBe(500);
    expect(elapsed).toBeLessThan(1000);
  });

  test('concurrent scrapes share one collection', async () => {
    const state: { mode: 'slow' | 'up'; calls: number } = { mode: 'slow', calls: 0 };
    running = await runExporter(demo(state), ['--web.listen-address=127.0.0.1:0'], { log: silentLogger });
    const headers = { 'X-Prometheus-Scrape-Timeout-Seconds': '0.6' };
    await Promise.all([1, 2, 3].map(() => fetch(`${running!.url}/metrics`, { headers })));
    expect(state.calls).toBe(1);
  });

  test('stop closes the server and the exporter', async () => {
    const state = { mode: 'up' as const, calls: 0, stopped: false };
    running = await runExporter(demo(state), ['--web.listen-address=127.0.0.1:0'], { log: silentLogger });
    const url = running.url;
    await running.stop();
    expect(state.stopped).toBe(true);
    await expect(fetch(`${url}/metrics`)).rejects.toThrow();
  });

  test('a web address already in use is a clear error, and what start() opened is closed', async () => {
    const state = { mode: 'up' as const, calls: 0, stopped: false };
    running = await runExporter(demo(state), ['--web.listen-address=127.0.0.1:0'], { log: silentLogger });
    const second = { mode: 'up' as const, calls: 0, stopped: false };
    await expect(runExporter(demo(second), [`--web.listen-address=127.0.0.1:${running.port}`], { log: silentLogger })).rejects.toThrow(
      `cannot listen on 127.0.0.1:${running.port}: listen EADDRINUSE`,
    );
    expect(second.stopped).toBe(true);
    expect(state.stopped).toBe(false);
  });

  test('flags come from the environment too, and a bad flag is a FlagError', async () => {
    const state = { mode: 'up' as const, calls: 0 };
    running = await runExporter(demo(state), [], { log: silentLogger, env: { TINOMAIL_WEB_LISTEN_ADDRESS: '127.0.0.1:0', TINOMAIL_DEMO_GREETING: 'env' } });
    expect(await (await fetch(`${running.url}/metrics`)).text()).toContain('greeting="env"');
    await expect(runExporter(demo(state), ['--demo.colour=red'], { log: silentLogger })).rejects.toThrow(FlagError);
  });

  test('scrape timeout header parsing', () => {
    expect(scrapeTimeoutMs(undefined)).toBe(9500);
    expect(scrapeTimeoutMs('10')).toBe(9500);
    expect(scrapeTimeoutMs('0.5')).toBe(250);
    expect(scrapeTimeoutMs('garbage')).toBe(9500);
    expect(scrapeTimeoutMs('1e9')).toBe(MAX_SCRAPE_TIMEOUT_MS - 500);
    expect(scrapeTimeoutMs('Infinity')).toBe(9500);
    expect(MAX_SCRAPE_TIMEOUT_MS).toBeLessThan(2 ** 31 - 1); // a Node timer above that fires at once
  });

  test('a huge X-Prometheus-Scrape-Timeout-Seconds is clamped: the scrape waits for its target, not a timer that fired at once', async () => {
    const state = { mode: 'late' as const, calls: 0, lastTimeout: 0 };
    running = await runExporter(demo(state), ['--web.listen-address=127.0.0.1:0'], { log: silentLogger });
    const res = await fetch(`${running.url}/metrics`, { headers: { 'X-Prometheus-Scrape-Timeout-Seconds': '1e9' } });
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/^demo_up 1$/m);
    expect(state.lastTimeout).toBe(MAX_SCRAPE_TIMEOUT_MS - 500);
  });

  test('the landing page names the target with its secrets redacted, and whether it is up', async () => {
    const state: { mode: 'up' | 'down'; calls: number } = { mode: 'up', calls: 0 };
    const def = { ...demo(state), target: (f: Record<string, unknown>) => `redis://:${String(f['demo.greeting'])}@127.0.0.1:6379/3?accessToken=abc&db=<3>` };
    running = await runExporter(def, ['--web.listen-address=127.0.0.1:0', '--demo.greeting=p4ss'], { log: silentLogger });
    const page = async () => (await fetch(`${running!.url}/`)).text();
    const first = await page();
    expect(first).toContain('<th align="left">Target</th><td>redis://:xxxxx@127.0.0.1:6379/3?accessToken=xxxxx&#38;db=&#60;3&#62;</td>');
    expect(first).not.toContain('p4ss');
    expect(first).not.toContain('abc');
    expect(first).toContain('<th align="left">State</th><td>not scraped yet</td>');
    await fetch(`${running.url}/metrics`);
    expect(await page()).toMatch(/<td>up \(last scrape \d{4}-\d\d-\d\dT[\d:.]+Z\)<\/td>/);
    state.mode = 'down';
    await fetch(`${running.url}/metrics`);
    expect(await page()).toMatch(/<td>down \(last scrape [^)]+\)<\/td>/);
  });

  test('stop() during a scrape aborts it and waits for it to end before the exporter closes its connections', async () => {
    const events: string[] = [];
    let started!: () => void;
    const scrapeStarted = new Promise<void>((resolve) => (started = resolve));
    const def: ExporterDefinition = {
      name: 'demo',
      description: 'A demo exporter whose scrape runs until it is aborted.',
      defaultPort: 0,
      flags: [],
      create: () => ({
        async scrape(sc: ScrapeContext) {
          events.push('scrape started');
          started();
          await new Promise((resolve) => sc.signal.addEventListener('abort', resolve));
          events.push('scrape aborted');
          // A step after the abort, as a collector's next query would be: it must still come before stop().
          await new Promise((resolve) => setImmediate(resolve));
          events.push('scrape ended');
          return false;
        },
        async stop() {
          events.push('exporter stopped');
        },
      }),
    };
    running = await runExporter(def, ['--web.listen-address=127.0.0.1:0'], { log: silentLogger });
    // A long scrape timeout: only stop() can end this scrape.
    const scrape = fetch(`${running.url}/metrics`, { headers: { 'X-Prometheus-Scrape-Timeout-Seconds': '60' } }).catch(() => undefined);
    await scrapeStarted;
    await running.stop();
    expect(events).toEqual(['scrape started', 'scrape aborted', 'scrape ended', 'exporter stopped']);
    await scrape;
  });

  test('the default listen address is loopback', () => {
    expect(commonFlags(9741).find((f) => f.name === 'web.listen-address')!.default).toBe('127.0.0.1:9741');
  });
});
