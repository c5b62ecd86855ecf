/**
 * A long list streaming in pages: each page folded into the sorted, grouped list must give what
 * sorting and grouping the whole list again gives, and the count says how many runs match.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { extendGrouping, extendTree, flattenGrouping, groupStructure } from '../logic/groups';
import { countText, ICountState } from '../logic/pages';
import { mergeSorted, sortRuns } from '../logic/runs';
import { ISort } from '../logic/types';
import { RunsModel } from '../model';
import { FakeRunsApi, run } from './fakes';

/** A small deterministic random generator, so a failure replays. */
function rng(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
}

/** Runs with names, a metric (some missing), parents (some unlisted, some in a cycle). */
function randomRuns(n: number, rand: () => number) {
  return Array.from({ length: n }, (_, i) => {
    const p = rand();
    const parent =
      p < 0.3 ? `r${Math.floor(rand() * n)}` : p < 0.35 ? 'unlisted' : p < 0.37 ? `r${i}` : null;
    return run(`r${i}`, {
      run_name: ['run-', 'Run-', 'trial-'][i % 3] + Math.floor(rand() * 50),
      start_time: Math.floor(rand() * 20),
      metrics: rand() < 0.8 ? { acc: Math.floor(rand() * 10) / 10 } : {},
      parent_run_id: parent
    });
  });
}

const SORTS: ISort[] = [
  { by: { kind: 'attr', key: 'start_time' }, descending: true },
  { by: { kind: 'attr', key: 'run_name' }, descending: false },
  { by: { kind: 'metric', key: 'acc' }, descending: true },
  { by: { kind: 'attr', key: 'duration' }, descending: false }
];

test('pages folded in one by one give the list and tree of sorting and grouping them all', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const rand = rng(seed);
    const all = randomRuns(60 + Math.floor(rand() * 60), rand);
    const sort = SORTS[seed % SORTS.length];
    // Server pages come in the sort's order; a browser-only sort (duration) gets them in any.
    const served = seed % 2 ? sortRuns(all, sort, 0) : all;
    const expanded = new Set(all.filter(() => rand() < 0.2).map(r => r.run_id));
    let sorted = sortRuns(served.slice(0, 7), sort, 0);
    let grouping = groupStructure(sorted);
    let tree = flattenGrouping(grouping, expanded);
    for (let at = 7; at < served.length; at += 13) {
      const before = sorted;
      sorted = mergeSorted(sorted, served.slice(at, at + 13), sort, 0);
      const appended = sorted[before.length - 1] === before[before.length - 1];
      const growth = appended ? extendGrouping(grouping, sorted.slice(before.length)) : null;
      grouping = growth ? growth.grouping : groupStructure(sorted);
      tree = (growth && extendTree(tree, growth, expanded)) || flattenGrouping(grouping, expanded);
      const whole = sortRuns(served.slice(0, at + 13), sort, 0);
      assert.deepEqual(sorted.map(r => r.run_id), whole.map(r => r.run_id), `seed ${seed}`);
      const full = flattenGrouping(groupStructure(whole), expanded);
      const rows = (t: typeof tree) => t.rows.map(r => [r.run.run_id, r.depth, r.children, r.expanded]);
      assert.deepEqual(rows(tree), rows(full), `seed ${seed}, ${at + 13} runs`);
      tree.rows.forEach((row, i) => assert.equal(tree.rowOf?.get(row.run.run_id) ?? i, i));
    }
  }
});

test('names sort by code point, as the server orders them, so a cut list keeps its order', () => {
  const runs = [run('a', { run_name: 'run-2' }), run('b', { run_name: 'run-10' }), run('c', { run_name: 'Run-3' })];
  const sorted = sortRuns(runs, { by: { kind: 'attr', key: 'run_name' }, descending: false }, 0);
  // SQLite's binary order and PostgreSQL's COLLATE "C": capitals first, digits one by one.
  assert.deepEqual(sorted.map(r => r.run_name), ['Run-3', 'run-10', 'run-2']);
});

test('the count says how many runs match beside how many are loaded', () => {
  const c: ICountState = { loaded: 5100, loading: true, truncated: false, total: 312458, exact: true };
  const line = (x: ICountState): string[] => {
    const t = countText(x);
    return [t.count, t.hint];
  };
  assert.deepEqual(line(c), ['5,100 of 312,458 runs', 'loading…']);
  assert.deepEqual(line({ ...c, total: null }), ['5,100 runs', 'loading…']);
  const cut = { ...c, loaded: 100000, loading: false, truncated: true };
  assert.deepEqual(line(cut), ['First 100,000 of 312,458 runs', 'narrow the filter to see the rest']);
  assert.equal(countText(cut).title, 'First 100,000 of 312,458 runs in this order: narrow the filter to see the rest');
  assert.deepEqual(line({ ...cut, total: 1000000, exact: false }), [
    'First 100,000 of more than 1,000,000 runs',
    'narrow the filter to see the rest'
  ]);
  assert.deepEqual(line({ ...cut, total: null }), ['First 100,000 runs', 'more match: narrow the filter']);
  assert.deepEqual(line({ ...c, loaded: 40, loading: false, total: 40 }), ['40 runs', '']);
  assert.deepEqual(line({ ...c, loaded: 1, loading: false, total: null }), ['1 run', '']);
  // A poll added runs after the count: never "42 of 40".
  assert.deepEqual(line({ ...c, loaded: 42, loading: false, total: 40 }), ['42 runs', '']);
});

test('a long list asks the server once for its count, beside the pages, and a short one never', async () => {
  const api = new FakeRunsApi();
  api.runsList = Array.from({ length: 350 }, (_, i) => run(`r${i}`, { start_time: 1e6 - i }));
  const model = new RunsModel(api, 1e9, { first: 20, next: 100, max: 200 });
  await model.reload();
  assert.equal(api.countQueries.length, 1);
  assert.equal(api.countQueries[0].maxResults, 1);
  assert.equal(model.total, 350);
  assert.equal(model.runCount, 200);
  assert.equal(model.truncated, true);
  assert.ok(api.queries.every(q => !q.count), 'pages never wait for a count');

  api.countCap = 300;
  await model.reload();
  assert.equal(model.total, 300);
  assert.equal(model.totalExact, false);

  await model.setFilter("params.none = 'x'");
  assert.equal(api.countQueries.length, 2, 'one page: nothing to count');
  assert.equal(model.total, null);
  model.dispose();
});

test('a list paged in the sort order shows the same rows as the complete list sorted in the browser', async () => {
  const rand = rng(7);
  const runs = randomRuns(400, rand);
  const sort: ISort = { by: { kind: 'attr', key: 'run_name' }, descending: false };
  const api = new FakeRunsApi();
  api.runsList = sortRuns(runs, sort, 0); // the server's order for this sort
  const paged = new RunsModel(api, 1e9, { first: 10, next: 37, max: 1000 });
  paged.setSort(sort);
  await paged.reload();
  const whole = new RunsModel(api, 1e9, { first: 1000, next: 1000, max: 1000 });
  whole.setSort(sort);
  await whole.reload();
  const ids = (m: RunsModel) => m.tree.rows.map(r => [r.run.run_id, r.depth, r.children]);
  assert.deepEqual(ids(paged), ids(whole));
  paged.dispose();
  whole.dispose();
});
