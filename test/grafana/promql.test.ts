/** The PromQL reader the dashboard lint relies on: metric names apart from functions, keywords and labels. */
import { metricNames, selectors } from '../../grafana/src/promql';

describe('promql reader', () => {
  test('finds metric names, not functions, keywords, label names or durations', () => {
    const expr =
      'histogram_quantile(0.95, sum by (le, zone) (rate(a_bucket{zone=~"$zone", x="rate(b)"}[$__rate_interval]))) / on (zone) group_left () max without (instance) (c) offset 5m and d{} unless e or vector(0) > bool 1';
    expect(metricNames(expr).sort()).toEqual(['a_bucket', 'c', 'd', 'e']);
  });

  test('counts each alternative of a __name__ regex selector', () => {
    expect(metricNames('max by (__name__) ({__name__=~"wildduck_up|redis_up", host=~"$host"})')).toEqual(['wildduck_up', 'redis_up']);
    expect(metricNames('up')).toEqual(['up']);
  });

  test('reports the function call directly around each selector', () => {
    const found = selectors('sum by (x) (rate(a_total{l="v"}[5m])) + sum(b_total) + (c_total) + increase(d_total[1h]) * 60');
    expect(found.map((s) => [s.metric, s.enclosingFunction])).toEqual([
      ['a_total', 'rate'],
      ['b_total', 'sum'],
      ['c_total', null],
      ['d_total', 'increase'],
    ]);
    expect(found[0].matchers).toBe('l="v"');
  });

  test('reads aggregations written with the clause after the parenthesis', () => {
    expect(selectors('sum(rate(a_total[5m])) by (zone)').map((s) => s.enclosingFunction)).toEqual(['rate']);
  });

  test('recording rule names with colons are metric names', () => {
    expect(metricNames('zone_sending_ip:zonemta_tinomail_deliveries:rate15m > 0.02')).toEqual(['zone_sending_ip:zonemta_tinomail_deliveries:rate15m']);
  });
});
