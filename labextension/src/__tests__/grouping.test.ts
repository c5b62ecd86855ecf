import assert from 'node:assert/strict';
import { test } from 'node:test';

import { flattenGrouping, groupRuns, groupStructure } from '../logic/groups';
import { runsQuery } from '../logic/query';
import { sortRuns } from '../logic/runs';
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

const names = (rows: { run: IRun; depth: number }[]): string[] =>
  rows.map(r => `${'-'.repeat(r.depth)}${r.run.run_id}`);

test('expanding a parent re-flattens the same grouping: its children right under it', () => {
  const runs = [run('p'), run('a', 'p'), run('x'), run('b', 'p'), run('c', 'a')];
  const grouping = groupStructure(runs);
  assert.deepEqual(names(flattenGrouping(grouping, new Set()).rows), ['p', 'x']);
  assert.deepEqual(names(flattenGrouping(grouping, new Set(['p'])).rows), [
    'p',
    '-a',
    '-b',
    'x'
  ]);
  assert.deepEqual(names(flattenGrouping(grouping, new Set(['p', 'a'])).rows), [
    'p',
    '-a',
    '--c',
    '-b',
    'x'
  ]);
  // The same rows as grouping from scratch.
  assert.deepEqual(
    names(flattenGrouping(grouping, new Set(['p', 'a'])).rows),
    names(groupRuns(runs, new Set(['p', 'a'])).rows)
  );
});

test('a grouping of 100,000 runs flattens again in a few milliseconds', () => {
  const runs: IRun[] = [run('parent')];
  for (let i = 0; i < 100000; i++) {
    runs.push(run(`r${i}`, i < 1000 ? 'parent' : null));
  }
  const grouping = groupStructure(runs);
  const open = flattenGrouping(grouping, new Set(['parent']));
  assert.equal(open.rows.length, 100001);
  assert.equal(open.rows[1].depth, 1);
  assert.equal(flattenGrouping(grouping, new Set()).rows.length, 99001);
});

test('the sidebar asks for runs without tags; other callers get them', () => {
  assert.match(runsQuery({ filter: 'metrics.a > 1', tags: false }), /tags=none/);
  assert.doesNotMatch(runsQuery({ filter: 'metrics.a > 1' }), /tags=/);
});

test('runs already in order keep it; one out of place is sorted; missing values stay last', () => {
  const at = (id: string, start: number | null): IRun => ({ ...run(id), start_time: start });
  const by = { by: { kind: 'attr' as const, key: 'start_time' as const }, descending: true };
  const listed = [at('c', 3), at('b', 2), at('b2', 2), at('a', 1), at('z', null)];
  const same = sortRuns(listed, by, 0);
  assert.notEqual(same, listed, 'a copy');
  assert.deepEqual(
    same.map(r => r.run_id),
    ['c', 'b', 'b2', 'a', 'z']
  );
  const shuffled = [at('z', null), at('a', 1), at('c', 3), at('b', 2)];
  assert.deepEqual(
    sortRuns(shuffled, by, 0).map(r => r.run_id),
    ['c', 'b', 'a', 'z']
  );
  assert.deepEqual(
    sortRuns(listed, { ...by, descending: false }, 0).map(r => r.run_id),
    ['a', 'b', 'b2', 'c', 'z']
  );
});
