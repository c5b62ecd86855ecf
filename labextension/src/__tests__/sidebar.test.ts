import assert from 'node:assert/strict';
import { test } from 'node:test';

import { descendants, groupRuns } from '../logic/groups';
import { modelPathInRun, signatureOf, snippets } from '../logic/modelInfo';
import { axisTicks } from '../logic/parallel';
import { runIdFromHref, runIdFromSearch, withoutRunQuery } from '../logic/links';
import { pruneSelection } from '../logic/selection';
import { isSingleValued, paramAxis, scatterData } from '../logic/series';
import {
  axisRoom,
  categoriesCrowded,
  fitLabel,
  formatTicks,
  MIN_AXIS_ROOM
} from '../logic/ticks';
import { IRun } from '../logic/types';

function run(id: string, parent: string | null = null): IRun {
  return {
    run_id: id,
    run_name: id,
    experiment_id: '1',
    status: 'FINISHED',
    start_time: 1000,
    end_time: 2000,
    user_id: 'u',
    artifact_uri: '',
    lifecycle_stage: 'active',
    parent_run_id: parent,
    params: {},
    metrics: {},
    tags: {}
  };
}

test('tick labels stay distinct on a narrow range', () => {
  assert.deepEqual(formatTicks([0.0101, 0.0102, 0.0103]), ['0.0101', '0.0102', '0.0103']);
  assert.deepEqual(formatTicks([0, 0.5, 1]), ['0.0', '0.5', '1.0']);
  assert.deepEqual(formatTicks([0, 20, 40]), ['0', '20', '40']);
  assert.deepEqual(formatTicks([0.9, 0.905, 0.91]), ['0.900', '0.905', '0.910']);
  const tiny = formatTicks([1e-8, 2e-8, 3e-8]);
  assert.equal(new Set(tiny).size, 3);
  assert.ok(tiny.every(t => t.includes('e-8')));
  assert.deepEqual(formatTicks([2e7, 4e7]), ['2e7', '4e7']);
  assert.deepEqual(formatTicks([-1e-17, 0.5]), ['0.0', '0.5']);
  // A log axis hands unlabelled minor ticks over as null.
  assert.deepEqual(formatTicks([0.1, null, null, 1, null, 10]), ['0.1', '', '', '1', '', '10']);
});

test('a y axis is as wide as its widest tick label needs, never narrower than the default', () => {
  const width = (label: string): number => label.length * 7; // a 7 px monospace stand-in
  // -1.00875 is 56 px, + 10 px of ticks + 5 px of gap + 6 px clear of the title.
  assert.equal(axisRoom(['-1.0098', '-1.00875', '-1.009'], width, 10, 5), 77);
  assert.equal(axisRoom(['0', '20', '40'], width, 10, 5), MIN_AXIS_ROOM);
  // uPlot's first layout pass has no labels yet; a log axis's minor ticks have none.
  assert.equal(axisRoom([], width, 10, 5), MIN_AXIS_ROOM);
  assert.equal(axisRoom([null, '', 'a very long tick label'], width, 10, 5), 22 * 7 + 21);
});

test('category labels are slanted when side by side they would overlap', () => {
  const width = (label: string): number => label.length * 7;
  const runs = ['ridge-alpha-11', 'ridge-alpha-10', 'ridge-alpha-9', 'ridge-alpha-8', 'ridge-alpha-7'];
  // 98 px labels with 70 px for each of five on a 350 px plot: they would overlap.
  assert.equal(categoriesCrowded(runs, width, 350), true);
  assert.equal(categoriesCrowded(runs, width, 600), false);
  assert.equal(categoriesCrowded(['a', 'b'], width, 100), false);
  assert.equal(categoriesCrowded([], width, 100), false);
});

test('an axis title too long for its axis loses its middle, never its ends', () => {
  const width = (label: string): number => label.length * 7;
  assert.equal(fitLabel('rmse', width, 100), 'rmse');
  const cut = fitLabel('system/cpu_utilization_percentage', width, 140);
  assert.ok(width(cut) <= 140, cut);
  assert.ok(cut.startsWith('system/') && cut.endsWith('centage') && cut.includes('…'), cut);
  assert.equal(fitLabel('abcdef', width, 1), 'a…');
});

test('children are listed under their parent only when it is expanded', () => {
  const runs = [run('p'), run('c1', 'p'), run('x'), run('c2', 'p'), run('g', 'c1')];
  const closed = groupRuns(runs, new Set());
  assert.deepEqual(
    closed.rows.map(r => r.run.run_id),
    ['p', 'x']
  );
  assert.equal(closed.rows[0].children, 2);
  const open = groupRuns(runs, new Set(['p', 'c1']));
  assert.deepEqual(
    open.rows.map(r => [r.run.run_id, r.depth]),
    [
      ['p', 0],
      ['c1', 1],
      ['g', 2],
      ['c2', 1],
      ['x', 0]
    ]
  );
  assert.deepEqual(descendants('p', open.childrenOf).sort(), ['c1', 'c2', 'g']);
});

test('a child whose parent is not listed, or a parent cycle, stays visible', () => {
  const orphan = groupRuns([run('c', 'gone'), run('a')], new Set());
  assert.deepEqual(
    orphan.rows.map(r => r.run.run_id),
    ['c', 'a']
  );
  const cycle = groupRuns([run('a', 'b'), run('b', 'a')], new Set());
  assert.deepEqual(
    cycle.rows.map(r => r.run.run_id),
    ['a', 'b']
  );
});

// How fast is bench_sidebar's to say (`--only expand`); no timed tests.
test('grouping 100,000 runs puts 1,000 children under their parent', () => {
  const runs = [run('p')];
  for (let i = 0; i < 1000; i++) {
    runs.push(run(`c${i}`, 'p'));
  }
  for (let i = 0; i < 99000; i++) {
    runs.push(run(`r${i}`));
  }
  const tree = groupRuns(runs, new Set(['p']));
  assert.equal(tree.rows.length, 100001);
  assert.deepEqual(
    tree.rows.slice(0, 3).map(r => [r.run.run_id, r.depth, r.children]),
    [
      ['p', 0, 1000],
      ['c0', 1, 0],
      ['c1', 1, 0]
    ]
  );
  assert.equal(tree.rows[1001].run.run_id, 'r0');
});

test('the selection drops runs that are no longer shown', () => {
  const sel = new Set(['a', 'b']);
  assert.equal(pruneSelection(sel, new Set(['a', 'b', 'c'])), sel);
  assert.deepEqual([...pruneSelection(sel, new Set(['b']))], ['b']);
  assert.deepEqual([...pruneSelection(sel, new Set())], []);
});

test('run links: the card fragment and the lab query', () => {
  assert.equal(runIdFromHref('#notebook-tracker:run=abc123'), 'abc123');
  assert.equal(runIdFromHref('http://h/lab/tree/x.ipynb#notebook-tracker:run=abc'), 'abc');
  assert.equal(runIdFromHref('/lab?nt-run=f00d&reset'), 'f00d');
  assert.equal(runIdFromHref('#notebook-tracker:run=../etc'), null);
  assert.equal(runIdFromHref('#section-2'), null);
  assert.equal(runIdFromSearch('?reset&nt-run=abc'), 'abc');
  assert.equal(runIdFromSearch('?token=t'), null);
  assert.equal(withoutRunQuery('?nt-run=abc&token=t'), '?token=t');
  assert.equal(withoutRunQuery('?nt-run=abc'), '');
});

test('single-valued metrics and scatter rows', () => {
  assert.ok(isSingleValued([{ value: [1] }, null, { value: [] }]));
  assert.ok(!isSingleValued([{ value: [1] }, { value: [1, 2] }]));
  const data = scatterData(
    [
      { x: 2, y: 0.5, group: 1 },
      { x: 1, y: 0.7, group: 0 },
      { x: 2, y: 0.6, group: 0 },
      { x: NaN, y: 1, group: 0 }
    ],
    2
  );
  assert.deepEqual(data, [
    [1, 2, 2],
    [0.7, null, 0.6],
    [null, 0.5, null]
  ]);
});

test('a param axis is numeric (log when it spans decades) or categorical', () => {
  assert.deepEqual(paramAxis(['0.1', '0.001', undefined]), {
    xs: [0.1, 0.001, null],
    categories: null,
    log: true
  });
  assert.equal(paramAxis(['1', '2']).log, false);
  assert.deepEqual(paramAxis(['sgd', 'adam', 'sgd']), {
    xs: [1, 0, 1],
    categories: ['adam', 'sgd'],
    log: false
  });
});

test('a model version: its folder in the run, its signature, and calls that authenticate', () => {
  const r = { artifact_uri: '/store/artifacts/1/abc' } as IRun;
  assert.equal(modelPathInRun('runs:/abc/model', r), 'model');
  assert.equal(modelPathInRun('/store/artifacts/1/abc/models/m/', r), 'models/m');
  assert.equal(modelPathInRun('/elsewhere/model', r), null);
  const mlmodel =
    'flavors:\n  python_function: {}\nsignature:\n  inputs: \'[{"name": "x"}]\'\n' +
    "  outputs: '[]'\nutc_time_created: x\n";
  assert.equal(signatureOf(mlmodel), 'inputs: \'[{"name": "x"}]\'\noutputs: \'[]\'');
  assert.equal(signatureOf('flavors: {}\n'), '');
  const s = snippets('http://h/notebook-tracker/models/m/1/invocations');
  for (const text of [s.curl, s.python]) {
    assert.ok(text.includes('http://h/notebook-tracker/models/m/1/invocations'));
    assert.ok(text.includes('Authorization') && text.includes('token'));
  }
});

test('parallel axes are labelled with their own values', () => {
  assert.deepEqual(
    axisTicks({ key: 'lr', kind: 'param', numeric: true, min: 0.001, max: 0.1, categories: [] }),
    [
      { t: 0, label: '0.001' },
      { t: 0.5, label: '0.0505' },
      { t: 1, label: '0.1' }
    ]
  );
  assert.deepEqual(
    axisTicks({
      key: 'opt',
      kind: 'param',
      numeric: false,
      min: 0,
      max: 0,
      categories: ['adam', 'sgd']
    }).map(t => [t.t, t.label]),
    [
      [0, 'adam'],
      [1, 'sgd']
    ]
  );
});
