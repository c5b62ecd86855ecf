import assert from 'node:assert/strict';
import { test } from 'node:test';

import { metricRows, onlyDifferences, paramRows } from '../logic/diff';
import { formatDuration, formatNumber, formatBytes } from '../logic/format';
import { parallelCoordinates, varyingParams } from '../logic/parallel';
import { encodePath, findCell, notebookTarget, relativeToRoot } from '../logic/paths';
import { errorMessage, runsQuery } from '../logic/query';
import { alignSeries, hasPositive, historyXY } from '../logic/series';
import { IRun } from '../logic/types';
import { scrollToReveal, visibleWindow } from '../logic/windowing';

function run(id: string, params: Record<string, string>, metrics: Record<string, number> = {}, tags: Record<string, string> = {}): IRun {
  return {
    run_id: id,
    run_name: id,
    experiment_id: '1',
    status: 'FINISHED',
    start_time: 0,
    end_time: 1,
    user_id: 'u',
    artifact_uri: '',
    lifecycle_stage: 'active',
    parent_run_id: null,
    params,
    metrics,
    tags
  };
}

test('a param that differs, or is missing in one run, is flagged', () => {
  const rows = paramRows([
    run('a', { lr: '0.1', opt: 'adam', seed: '1' }),
    run('b', { lr: '0.2', opt: 'adam' })
  ]);
  const flags = Object.fromEntries(rows.map(r => [r.key, r.differs]));
  assert.deepEqual(flags, { lr: true, opt: false, seed: true });
  assert.deepEqual(rows.find(r => r.key === 'seed')?.values, ['1', undefined]);
  assert.deepEqual(
    onlyDifferences(rows, true).map(r => r.key),
    ['lr', 'seed']
  );
  assert.equal(onlyDifferences(rows, false).length, 3);
});

test('equal NaN metrics are not a difference', () => {
  const rows = metricRows([run('a', {}, { m: NaN }), run('b', {}, { m: NaN })]);
  assert.equal(rows[0].differs, false);
});

test('only the visible rows (plus overscan) are rendered', () => {
  const w = visibleWindow(26 * 1000, 260, 26, 10000, 5);
  assert.equal(w.start, 995);
  assert.equal(w.end, 1000 + 11 + 5);
  assert.equal(w.offsetTop, 995 * 26);
  assert.equal(w.totalHeight, 260000);
  const end = visibleWindow(1e9, 260, 26, 100, 5);
  assert.equal(end.end, 100);
  assert.ok(end.start < 100 && end.start >= 80);
  assert.deepEqual(visibleWindow(0, 300, 26, 0), { start: 0, end: 0, offsetTop: 0, totalHeight: 0 });
});

test('revealing a row scrolls only when it is out of view', () => {
  assert.equal(scrollToReveal(5, 0, 260, 26), null);
  assert.equal(scrollToReveal(20, 0, 260, 26), 21 * 26 - 260);
  assert.equal(scrollToReveal(2, 200, 260, 26), 52);
});

test('histories of different runs align on the union of their x values', () => {
  const aligned = alignSeries([
    { x: [0, 2, 4], y: [1, 2, 3] },
    { x: [1, 2], y: [5, null] }
  ]);
  assert.deepEqual(aligned, [
    [0, 1, 2, 4],
    [1, null, 2, 3],
    [null, 5, null, null]
  ]);
});

test('a log scale drops non-positive values instead of breaking the chart', () => {
  const aligned = alignSeries([{ x: [0, 1, 2], y: [-1, 0, 10] }], true);
  assert.deepEqual(aligned[1], [null, null, 10]);
  assert.equal(hasPositive(aligned), true);
  assert.equal(hasPositive(alignSeries([{ x: [0], y: [-1] }], true)), false);
});

test('time on x is in seconds for the chart', () => {
  const xy = historyXY(
    { key: 'm', total: 2, downsampled: false, step: [0, 1], timestamp: [1000, 3000], value: [1, 2] },
    'timestamp'
  );
  assert.deepEqual(xy.x, [1, 3]);
});

test('parallel coordinates scale numeric and categorical params to [0, 1]', () => {
  const runs = [
    run('a', { lr: '0.1', opt: 'adam', seed: '1' }, { acc: 0.5 }),
    run('b', { lr: '0.3', opt: 'sgd', seed: '1' }, { acc: 0.7 }),
    run('c', { lr: '0.2', opt: 'adam', seed: '1' }, { acc: 0.9 })
  ];
  const params = varyingParams(runs);
  assert.deepEqual(params, ['lr', 'opt']);
  const pc = parallelCoordinates(runs, params, 'acc');
  assert.deepEqual(
    pc.axes.map(a => [a.key, a.numeric]),
    [
      ['lr', true],
      ['opt', false],
      ['acc', true]
    ]
  );
  const close = (a: number | null, b: number): boolean => a !== null && Math.abs(a - b) < 1e-9;
  assert.ok(close(pc.lines[0][0], 0) && close(pc.lines[1][0], 1) && close(pc.lines[2][0], 0.5));
  assert.deepEqual(pc.axes[1].categories, ['adam', 'sgd']);
  assert.equal(pc.lines[1][1], 1);
  assert.ok(close(pc.shade[2], 1) && close(pc.shade[0], 0));
});

test('a run lacking the metric has no colour and no point on its axis', () => {
  const pc = parallelCoordinates([run('a', { lr: '1' }, { acc: 1 }), run('b', { lr: '2' })], ['lr'], 'acc');
  assert.equal(pc.shade[1], null);
  assert.equal(pc.lines[1][1], null);
});

test('the runs query carries experiments, filter, order and paging', () => {
  const q = runsQuery({
    experimentIds: ['1', '2'],
    filter: " metrics.acc > 0.9 and params.opt = 'adam' ",
    orderBy: ['attributes.start_time DESC'],
    maxResults: 500,
    pageToken: 'tok'
  });
  const p = new URLSearchParams(q.slice(1));
  assert.equal(p.get('experiment_ids'), '1,2');
  assert.equal(p.get('filter'), "metrics.acc > 0.9 and params.opt = 'adam'");
  assert.equal(p.get('order_by'), 'attributes.start_time DESC');
  assert.equal(p.get('max_results'), '500');
  assert.equal(p.get('page_token'), 'tok');
  assert.equal(runsQuery({}), '');
});

test('a list ordered by a param asks the server for numbers by value, as the browser sorts', () => {
  const byParam = new URLSearchParams(runsQuery({ orderBy: ['params.`lr` DESC', 'attributes.start_time DESC'] }));
  assert.equal(byParam.get('param_order'), 'numbers');
  const byMetric = new URLSearchParams(runsQuery({ orderBy: ['metrics.`acc` DESC'] }));
  assert.equal(byMetric.get('param_order'), null);
});

test("the server's error message is what the user sees", () => {
  assert.equal(
    errorMessage({ error_code: 'INVALID_PARAMETER_VALUE', message: 'bad token at position 3' }, 'x'),
    'bad token at position 3'
  );
  assert.equal(errorMessage('<html>oops</html>', 'fallback'), 'fallback');
});

test('artifact paths are encoded segment by segment', () => {
  assert.equal(encodePath('figures/a b#1.png'), 'figures/a%20b%231.png');
  assert.equal(encodePath('/x//y/'), 'x/y');
});

test('the notebook cell is found by id, else by execution count', () => {
  const tags = {
    'notebook_tracker.notebook_path': 'work/train.ipynb',
    'notebook_tracker.cell_id': 'c2',
    'notebook_tracker.execution_count': '7'
  };
  const target = notebookTarget(run('a', {}, {}, tags));
  assert.deepEqual(target, { path: 'work/train.ipynb', cellId: 'c2', executionCount: 7 });
  const cells = [
    { id: 'c1', executionCount: 7 },
    { id: 'c2', executionCount: 3 }
  ];
  assert.equal(findCell(cells, target), 1);
  assert.equal(findCell(cells, { ...target, cellId: 'gone' }), 0);
  assert.equal(findCell(cells, { ...target, cellId: null, executionCount: 9 }), -1);
  assert.equal(notebookTarget(run('b', {}, {}, { 'notebook_tracker.notebook_path': 'unknown' })), null);
});

test('absolute notebook paths under the server root become relative', () => {
  assert.equal(relativeToRoot('/srv/nb/a/b.ipynb', '/srv/nb'), 'a/b.ipynb');
  assert.equal(relativeToRoot('/srv/nb/a/b.ipynb', '/srv/nb/'), 'a/b.ipynb');
  assert.equal(relativeToRoot('/other/b.ipynb', '/srv/nb'), '/other/b.ipynb');
  assert.equal(relativeToRoot('a/b.ipynb', '/srv/nb'), 'a/b.ipynb');
});

test('numbers, durations and sizes read well', () => {
  assert.equal(formatNumber(0.123456789), '0.12346');
  assert.equal(formatNumber(42), '42');
  assert.equal(formatNumber(1.5e-7), '1.500e-7');
  assert.equal(formatNumber(null), '');
  assert.equal(formatDuration(4500), '4.5s');
  assert.equal(formatDuration(125000), '2m 5s');
  assert.equal(formatDuration(3 * 3600e3 + 60e3), '3h 1m');
  assert.equal(formatBytes(2048), '2.0 KB');
});
