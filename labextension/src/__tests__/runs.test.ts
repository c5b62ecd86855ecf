import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  collectKeys,
  defaultColumns,
  mergeRuns,
  runDuration,
  sortRuns,
  toggleSelection
} from '../logic/runs';
import { IRun } from '../logic/types';

function run(id: string, over: Partial<IRun> = {}): IRun {
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
    parent_run_id: null,
    params: {},
    metrics: {},
    tags: {},
    ...over
  };
}

test('a running run lasts until now, a finished one until its end', () => {
  assert.equal(runDuration(run('a'), 99999), 1000);
  assert.equal(runDuration(run('b', { status: 'RUNNING', end_time: null }), 5000), 4000);
  assert.equal(runDuration(run('c', { start_time: null }), 5000), null);
});

test('sorting by a metric puts runs without it last in both directions', () => {
  const runs = [
    run('a', { metrics: { acc: 0.5 } }),
    run('b'),
    run('c', { metrics: { acc: 0.9 } }),
    run('d', { metrics: { acc: NaN } })
  ];
  const by = { kind: 'metric' as const, key: 'acc' };
  const asc = sortRuns(runs, { by, descending: false }, 0).map(r => r.run_id);
  const desc = sortRuns(runs, { by, descending: true }, 0).map(r => r.run_id);
  assert.deepEqual(asc, ['a', 'c', 'b', 'd']);
  assert.deepEqual(desc, ['c', 'a', 'b', 'd']);
});

test('numeric params sort as numbers, so 10 comes after 9', () => {
  const runs = [
    run('a', { params: { n: '10' } }),
    run('b', { params: { n: '9' } }),
    run('c', { params: { n: 'auto' } })
  ];
  const order = sortRuns(runs, { by: { kind: 'param', key: 'n' }, descending: false }, 0);
  assert.deepEqual(
    order.map(r => r.run_id),
    ['b', 'a', 'c']
  );
});

test('params sort as the server orders them: numbers by value, then text, then missing', () => {
  // The values and orders of tests/test_param_number_order.py (the server's side).
  const values = ['10', '9', '0.5', '-1', '1e-3', ' 12', '+3', '.25', 'abc', 'Abc', '0x10', '1-2', ''];
  const numbersUp = ['-1', '1e-3', '.25', '0.5', '+3', '9', '10', ' 12'];
  const textsUp = ['', '0x10', '1-2', 'Abc', 'abc'];
  const runs = [...values.map(v => run(v, { params: { lr: v } })), run('none')];
  const by = { kind: 'param' as const, key: 'lr' };
  const ids = (descending: boolean) => sortRuns(runs, { by, descending }, 0).map(r => r.run_id);
  assert.deepEqual(ids(false), [...numbersUp, ...textsUp, 'none']);
  assert.deepEqual(ids(true), [...[...numbersUp].reverse(), ...[...textsUp].reverse(), 'none']);
});

test('sorting by start time and name', () => {
  const runs = [
    run('a', { start_time: 3, run_name: 'Zeta' }),
    run('b', { start_time: 1, run_name: 'alpha' }),
    run('c', { start_time: 2, run_name: 'Beta' })
  ];
  const start = { kind: 'attr' as const, key: 'start_time' as const };
  const name = { kind: 'attr' as const, key: 'run_name' as const };
  assert.deepEqual(
    sortRuns(runs, { by: start, descending: true }, 0).map(r => r.run_id),
    ['a', 'c', 'b']
  );
  // By code point, as the server (and MLflow's SQL store) orders names: capitals first.
  assert.deepEqual(
    sortRuns(runs, { by: name, descending: false }, 0).map(r => r.run_id),
    ['c', 'a', 'b']
  );
});

test('a polled page adds new runs first and updates changed ones in place', () => {
  const a = run('a', { status: 'RUNNING', end_time: null, metrics: { loss: 1 } });
  const b = run('b');
  const polled = [run('c'), { ...a, status: 'FINISHED', end_time: 5, metrics: { loss: 0.5 } }, { ...b }];
  const merged = mergeRuns([a, b], polled);
  assert.deepEqual(
    merged.runs.map(r => r.run_id),
    ['c', 'a', 'b']
  );
  assert.equal(merged.added, 1);
  assert.equal(merged.changed, 1);
  assert.equal(merged.runs[1].metrics.loss, 0.5);
  assert.equal(merged.runs[2], b, 'an unchanged run keeps its object');
});

test('a poll with nothing new changes nothing', () => {
  const runs = [run('a'), run('b')];
  const merged = mergeRuns(runs, [{ ...runs[0] }]);
  assert.equal(merged.added + merged.changed, 0);
  assert.equal(merged.runs[0], runs[0]);
});

test('the most common keys become the default columns', () => {
  const runs = [
    run('a', { params: { lr: '1', seed: '1' }, metrics: { acc: 1, loss: 2, f1: 3 } }),
    run('b', { params: { lr: '2' }, metrics: { acc: 1, loss: 2 } }),
    run('c', { params: { lr: '3', opt: 'sgd' }, metrics: { acc: 1 } })
  ];
  const keys = collectKeys(runs);
  assert.deepEqual(keys.metrics, ['acc', 'loss', 'f1']);
  assert.deepEqual(keys.params, ['lr', 'opt', 'seed']);
  assert.deepEqual(defaultColumns(keys), [
    { kind: 'metric', key: 'acc' },
    { kind: 'metric', key: 'loss' },
    { kind: 'param', key: 'lr' },
    { kind: 'param', key: 'opt' }
  ]);
});

test('selection toggles, and shift selects the range from the anchor', () => {
  let s = toggleSelection(new Set(), 'b');
  assert.deepEqual([...s], ['b']);
  s = toggleSelection(s, 'e', { range: { ordered: ['a', 'b', 'c', 'd', 'e'], anchor: 'b' } });
  assert.deepEqual([...s].sort(), ['b', 'c', 'd', 'e']);
  s = toggleSelection(s, 'c');
  assert.deepEqual([...s].sort(), ['b', 'd', 'e']);
});
