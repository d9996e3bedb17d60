import { allowlisted, BoundedLabel, OTHER } from '../../exporters/kit/labels';
import { createLogger, redactUrl } from '../../exporters/kit/log';

describe('bounded labels', () => {
  test('allowlist keeps known values, folds the rest into other, and names missing values', () => {
    const codes = new Set(['NO_SUCH_USER', 'MBOX_FULL']);
    expect(allowlisted('MBOX_FULL', codes)).toBe('MBOX_FULL');
    expect(allowlisted('SOMETHING_NEW', codes)).toBe(OTHER);
    expect(allowlisted(undefined, codes)).toBe('none');
    expect(allowlisted('', codes, 'unknown')).toBe('unknown');
  });

  test('BoundedLabel keeps the first N values and never admits addresses or free text', () => {
    const zones = new BoundedLabel(2);
    expect(zones.value('default')).toBe('default');
    expect(zones.value('user@example.com')).toBe(OTHER);
    expect(zones.value('has space')).toBe(OTHER);
    expect(zones.value('bulk')).toBe('bulk');
    expect(zones.value('third')).toBe(OTHER);
    expect(zones.value('default')).toBe('default');
    expect(zones.value(null)).toBe('none');
  });
});

describe('logging', () => {
  test('logfmt and json lines carry level, message and fields; levels filter', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'info', write: (l) => lines.push(l) }).child({ exporter: 'demo' });
    log.debug('hidden');
    log.info('listening', { address: '0.0.0.0:9742' });
    log.warn('failed', { err: new Error('connection refused') });
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^ts=\S+ level=info msg=listening exporter=demo address=0\.0\.0\.0:9742$/);
    expect(lines[1]).toContain('err="connection refused"');
    const json: string[] = [];
    createLogger({ format: 'json', write: (l) => json.push(l) }).error('bad', { n: 1 });
    expect(JSON.parse(json[0])).toMatchObject({ level: 'error', msg: 'bad', n: 1 });
  });

  test('redactUrl hides passwords', () => {
    expect(redactUrl('mongodb://admin:p4ss@db:27017/wildduck')).toBe('mongodb://admin:xxxxx@db:27017/wildduck');
    expect(redactUrl('redis://:p4ss@127.0.0.1:6379/3')).toBe('redis://:xxxxx@127.0.0.1:6379/3');
    expect(redactUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
  });
});
