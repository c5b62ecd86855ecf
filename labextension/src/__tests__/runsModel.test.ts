/** The runs sidebar's state (RunsModel) against an in-memory API: what a user of the panel relies on. */

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { sortRuns } from '../logic/runs';
import { RunsModel } from '../model';
import { deferred, experiment, FakeRunsApi, run, settle, until } from './fakes';

function many(n: number, extra: (i: number) => Partial<ReturnType<typeof run>> = () => ({})) {
  return Array.from({ length: n }, (_, i) =>
    run(`r${String(i).padStart(6, '0')}`, { start_time: 1e6 - i, ...extra(i) })
  );
}

function setup(runs = many(3)): { api: FakeRunsApi; model: RunsModel } {
  const api = new FakeRunsApi();
  api.runsList = runs;
  return { api, model: new RunsModel(api, 5) };
}

test('the first page is small so the table shows at once, the rest loads in big pages', async () => {
  const { api, model } = setup(many(5250));
  const states: string[] = [];
  model.changed.connect(() => states.push(model.state));
  await model.reload();
  assert.deepEqual(
    api.queries.map(q => q.maxResults),
    [100, 5000, 5000]
  );
  assert.equal(model.runCount, 5250);
  assert.equal(model.state, 'ready');
  assert.ok(states.includes('partial'), 'the table shows while the rest loads');
  assert.equal(model.truncated, false);
  assert.notEqual(model.firstPageMs, null);
  model.dispose();
});

test('loading stops at 100,000 runs and says the list is truncated', async () => {
  const { api, model } = setup(many(100_150));
  await model.reload();
  assert.equal(model.runCount, 100_000);
  assert.equal(model.truncated, true);
  assert.equal(model.state, 'ready');
  assert.equal(api.queries.length, 1 + Math.ceil((100_000 - 100) / 5000));
  assert.equal(api.queries.at(-1)?.maxResults, 4900, 'the last page stops at the cap');
  model.dispose();
});

test('runs are shown newest first and re-sorted on request', async () => {
  const { model } = setup([
    run('old', { start_time: 1, metrics: { acc: 0.9 } }),
    run('new', { start_time: 3, metrics: { acc: 0.1 } }),
    run('mid', { start_time: 2, metrics: { acc: 0.5 } })
  ]);
  await model.reload();
  assert.deepEqual(model.runs.map(r => r.run_id), ['new', 'mid', 'old']);
  model.setSort({ by: { kind: 'metric', key: 'acc' }, descending: true });
  assert.deepEqual(model.runs.map(r => r.run_id), ['old', 'mid', 'new']);
  assert.deepEqual(model.tree.rows.map(r => r.run.run_id), ['old', 'mid', 'new']);
  model.dispose();
});

test('the selection only ever holds listed runs, in selection order, at their latest state', async () => {
  const { api, model } = setup([run('a', { status: 'RUNNING' }), run('b'), run('c')]);
  await model.reload();
  model.selectedIds = new Set(['c', 'ghost', 'a']);
  assert.deepEqual([...model.selectedIds], ['c', 'a']);
  api.runsList = [run('a', { status: 'FINISHED', end_time: 5000 }), run('b'), run('c')];
  await model.poll();
  assert.deepEqual(
    model.selectedRuns.map(r => [r.run_id, r.status]),
    [
      ['c', 'FINISHED'],
      ['a', 'FINISHED']
    ]
  );
  model.clearSelection();
  assert.equal(model.selectedIds.size, 0);
  model.dispose();
});

test('choosing experiments drops selected runs of the others; "all" keeps them', async () => {
  const { model } = setup([
    run('a1', { experiment_id: '1' }),
    run('b2', { experiment_id: '2' }),
    run('c3', { experiment_id: '3' })
  ]);
  await model.reload();
  model.selectedIds = new Set(['a1', 'b2', 'c3']);
  model.setExperiments(['2', '1', '2']);
  assert.deepEqual(model.experimentIds, ['1', '2']);
  assert.equal(model.experimentId, '', 'several experiments: no single id');
  assert.deepEqual([...model.selectedIds].sort(), ['a1', 'b2']);
  await settle();
  assert.deepEqual(model.runs.map(r => r.run_id).sort(), ['a1', 'b2']);
  model.setExperiment('');
  await settle();
  assert.deepEqual([...model.selectedIds].sort(), ['a1', 'b2']);
  assert.equal(model.runCount, 3);
  model.setExperiment('2');
  assert.equal(model.experimentId, '2');
  assert.deepEqual([...model.selectedIds], ['b2']);
  model.dispose();
});

test('after a reload the selection and focus keep the runs still listed and drop the others', async () => {
  const { api, model } = setup([run('a'), run('b'), run('c')]);
  await model.reload();
  model.selectedIds = new Set(['a', 'b']);
  model.focused = 'b';
  await model.reload();
  assert.deepEqual([...model.selectedIds], ['a', 'b'], 'a refresh restores the selection');
  assert.equal(model.focused, 'b');
  api.runsList = [run('a'), run('c')];
  await model.reload();
  assert.deepEqual([...model.selectedIds], ['a']);
  assert.equal(model.focused, null);
  model.dispose();
});

test('child runs stay under a collapsed parent until it is expanded', async () => {
  const { model } = setup([
    run('parent', { start_time: 3 }),
    run('kid1', { start_time: 2, parent_run_id: 'parent' }),
    run('kid2', { start_time: 1, parent_run_id: 'parent' }),
    run('solo', { start_time: 0 })
  ]);
  await model.reload();
  const rows = (): string[] => model.tree.rows.map(r => `${'-'.repeat(r.depth)}${r.run.run_id}`);
  assert.deepEqual(rows(), ['parent', 'solo']);
  assert.equal(model.tree.rows[0].children, 2);
  model.toggleExpanded('parent');
  assert.deepEqual(rows(), ['parent', '-kid1', '-kid2', 'solo']);
  model.toggleExpanded('parent', true);
  assert.deepEqual(rows(), ['parent', '-kid1', '-kid2', 'solo'], 'opening an open parent: no change');
  model.dispose();
});

test('collapsing a parent drops its hidden children from the selection and moves focus to it', async () => {
  const { model } = setup([
    run('parent', { start_time: 3 }),
    run('kid', { start_time: 2, parent_run_id: 'parent' }),
    run('grandkid', { start_time: 1, parent_run_id: 'kid' }),
    run('solo', { start_time: 0 })
  ]);
  await model.reload();
  model.toggleExpanded('parent', true);
  model.toggleExpanded('kid', true);
  model.selectedIds = new Set(['grandkid', 'solo', 'kid']);
  model.focused = 'grandkid';
  model.toggleExpanded('parent', false);
  assert.deepEqual([...model.selectedIds], ['solo']);
  assert.equal(model.focused, 'parent');
  assert.deepEqual(model.tree.rows.map(r => r.run.run_id), ['parent', 'solo']);
  model.dispose();
});

test('a refused filter is shown as the filter error and keeps the runs; a good one clears it', async () => {
  const { model } = setup([run('a', { params: { lr: '0.1' } }), run('b', { params: { lr: '0.2' } })]);
  await model.reload();
  await model.setFilter('bad');
  assert.match(model.filterError ?? '', /Invalid filter 'bad'/);
  assert.equal(model.error, null, 'a filter mistake is not a load failure');
  assert.equal(model.state, 'ready');
  assert.equal(model.runCount, 2);
  await model.setFilter("params.lr = '0.2'");
  assert.equal(model.filterError, null);
  assert.deepEqual(model.runs.map(r => r.run_id), ['b']);
  model.dispose();
});

test('an unreachable server is a load error, and polling waits for a reload', async () => {
  const { api, model } = setup([run('a')]);
  api.down = true;
  await model.reload();
  assert.equal(model.state, 'error');
  assert.match(model.error ?? '', /Cannot reach/);
  assert.equal(model.filterError, null);
  const asked = api.queries.length;
  await model.poll();
  assert.equal(api.queries.length, asked, 'no poll while in error');
  api.down = false;
  await model.reload();
  assert.equal(model.state, 'ready');
  assert.equal(model.error, null);
  assert.equal(model.runCount, 1);
  model.dispose();
});

test('a slow answer to an older filter never replaces the newer one', async () => {
  const { api, model } = setup([run('a', { params: { k: 'x' } }), run('b', { params: { k: 'y' } })]);
  await model.reload();
  const slow = deferred();
  api.gate = slow.promise;
  const first = model.setFilter("params.k = 'x'");
  const second = model.setFilter("params.k = 'y'");
  await second;
  slow.resolve();
  await first;
  assert.equal(model.filter, "params.k = 'y'");
  assert.deepEqual(model.runs.map(r => r.run_id), ['b']);
  model.dispose();
});

test('polling folds new runs in first and updates changed ones; a failed poll keeps the list', async () => {
  const { api, model } = setup([run('a', { status: 'RUNNING', start_time: 1 })]);
  await model.reload();
  let emitted = 0;
  model.changed.connect(() => emitted++);
  await model.poll();
  assert.equal(emitted, 0, 'a poll that finds nothing new does not re-render');
  api.runsList = [run('new', { start_time: 2 }), run('a', { status: 'FINISHED', start_time: 1 })];
  await model.poll();
  assert.deepEqual(model.runs.map(r => [r.run_id, r.status]), [
    ['new', 'FINISHED'],
    ['a', 'FINISHED']
  ]);
  api.down = true;
  await model.poll();
  assert.equal(model.runCount, 2);
  assert.equal(model.state, 'ready');
  model.dispose();
});

test('a poll that finds one changed run among many updates its row in place; a moved value moves it', async () => {
  const runs = many(5000, i => ({ metrics: { acc: (i * 7919) % 5000 } }));
  const { api, model } = setup(runs);
  await model.reload();
  model.setSort({ by: { kind: 'metric', key: 'acc' }, descending: true });
  const before = model.tree.rows;
  const target = runs[10].run_id;
  api.runsList = runs.map((r, i) => (i === 10 ? { ...r, status: 'FAILED' } : r));
  await model.poll();
  const after = model.tree.rows;
  const k = after.findIndex(row => row.run.run_id === target);
  assert.equal(after[k].run.status, 'FAILED');
  assert.equal(before[k].run.run_id, target, 'it kept its row');
  assert.ok(
    after.every((row, i) => i === k || row === before[i]),
    'every other row is the one shown before'
  );
  // Its sort value changed: it moves to where sorting the whole list would put it.
  api.runsList = api.runsList.map((r, i) => (i === 10 ? { ...r, metrics: { acc: 1e9 } } : r));
  await model.poll();
  assert.equal(model.runs[0].run_id, target);
  const whole = sortRuns(api.runsList, model.sort, Date.now());
  assert.deepEqual(
    model.tree.rows.map(row => row.run.run_id),
    whole.map(r => r.run_id)
  );
  model.dispose();
});

test('while active the model polls by itself, and stops when made inactive', async t => {
  const { api, model } = setup([run('a')]);
  t.after(() => model.dispose());
  model.active = true;
  await until(() => model.state === 'ready', 'the first activation loads');
  api.runsList = [run('b', { start_time: 5000 }), run('a')];
  await until(() => model.runCount === 2, 'a poll');
  assert.deepEqual(model.runs.map(r => r.run_id), ['b', 'a']);
  model.active = false;
  await settle(10);
  const asked = api.queries.length;
  await settle(40);
  assert.equal(api.queries.length, asked);
  model.dispose();
});

test('an experiment deleted elsewhere leaves the chosen experiments and the list reloads', async () => {
  const { api, model } = setup([run('a1', { experiment_id: '1' }), run('b2', { experiment_id: '2' })]);
  model.setExperiments(['1', '2']);
  await settle();
  await model.refreshExperiments();
  assert.deepEqual(model.experiments.map(e => e.experiment_id), ['1', '2']);
  api.experimentsList = [experiment('2')];
  await model.refreshExperiments();
  await settle();
  assert.deepEqual(model.experimentIds, ['2']);
  assert.deepEqual(model.runs.map(r => r.run_id), ['b2']);
  model.dispose();
});

test('revealing a run of another experiment shows it: experiment, no filter, parents open, focus', async () => {
  const { model } = setup([
    run('a1', { experiment_id: '1', params: { k: 'x' } }),
    run('top', { experiment_id: '2', start_time: 3 }),
    run('mid', { experiment_id: '2', start_time: 2, parent_run_id: 'top' }),
    run('leaf', { experiment_id: '2', start_time: 1, parent_run_id: 'mid' })
  ]);
  model.setExperiment('1');
  await model.setFilter("params.k = 'x'");
  await model.reveal(run('leaf', { experiment_id: '2', parent_run_id: 'mid' }));
  assert.deepEqual(model.experimentIds, ['2']);
  assert.equal(model.filter, '');
  assert.equal(model.focused, 'leaf');
  assert.equal(model.revealCount, 1);
  assert.deepEqual(model.tree.rows.map(r => r.run.run_id), ['top', 'mid', 'leaf']);
  model.dispose();
});

test('default columns follow the most common keys until the user picks columns', async () => {
  const { api, model } = setup([
    run('a', { metrics: { acc: 1, loss: 2, f1: 3 }, params: { lr: '1' } }),
    run('b', { metrics: { acc: 1, loss: 2 }, params: { lr: '1', opt: 'adam' } })
  ]);
  await model.reload();
  const ids = (): string[] => model.columns.map(c => `${c.kind}:${c.key}`);
  assert.deepEqual(ids(), ['metric:acc', 'metric:loss', 'param:lr', 'param:opt']);
  api.runsList = [run('c', { metrics: { f1: 1 } }), run('d', { metrics: { f1: 1, acc: 2 } })];
  await model.reload();
  assert.deepEqual(ids(), ['metric:f1', 'metric:acc']);
  model.columns = [{ kind: 'param', key: 'lr' }];
  await model.reload();
  assert.deepEqual(ids(), ['param:lr']);
  model.dispose();
});

test('sorting a list cut at the cap asks the server again, in that order, from the first page', async () => {
  const api = new FakeRunsApi();
  api.runsList = many(30);
  const model = new RunsModel(api, 5, { first: 4, next: 10, max: 12 });
  await model.reload();
  assert.equal(model.truncated, true);
  assert.deepEqual(
    api.queries.map(q => [q.maxResults, q.pageToken ?? null]),
    [
      [4, null],
      [8, '4']
    ]
  );
  api.queries = [];
  model.setSort({ by: { kind: 'metric', key: 'val loss' }, descending: false });
  await until(() => model.state === 'ready' && api.queries.length > 0, 'the sorted reload');
  assert.deepEqual(api.queries[0].orderBy, ['metrics.`val loss` ASC', 'attributes.start_time DESC']);
  assert.equal(api.queries[0].pageToken ?? null, null, 'paging restarts at the first page');
  assert.equal(api.queries[0].maxResults, 4);
  // A later filter keeps the server's order.
  api.queries = [];
  await model.setFilter('params.x = 1');
  assert.deepEqual(api.queries[0].orderBy, ['metrics.`val loss` ASC', 'attributes.start_time DESC']);
  model.dispose();
});

test('sorting a complete list sorts in the browser without asking the server', async () => {
  const { api, model } = setup(many(20));
  await model.reload();
  const asked = api.queries.length;
  model.setSort({ by: { kind: 'attr', key: 'run_name' }, descending: false });
  await settle();
  assert.equal(api.queries.length, asked);
  assert.equal(model.runs[0].run_id, 'r000000');
  assert.deepEqual(model.order, ['attributes.run_name ASC', 'attributes.start_time DESC']);
  model.dispose();
});

test('a sort the server cannot do (duration) sorts the loaded runs and keeps the last order', async () => {
  const api = new FakeRunsApi();
  api.runsList = many(30);
  const model = new RunsModel(api, 5, { first: 4, next: 10, max: 12 });
  await model.reload();
  api.queries = [];
  model.setSort({ by: { kind: 'attr', key: 'duration' }, descending: true });
  await settle();
  assert.equal(api.queries.length, 0);
  assert.deepEqual(model.order, ['attributes.start_time DESC']);
  model.dispose();
});

test('polling a cut list re-reads its top in its order, adding no run past the cut', async () => {
  const api = new FakeRunsApi();
  api.runsList = many(30);
  const model = new RunsModel(api, 5, { first: 4, next: 10, max: 12 });
  await model.reload();
  model.setSort({ by: { kind: 'metric', key: 'acc' }, descending: true });
  await until(() => model.state === 'ready', 'the sorted reload');
  api.queries = [];
  await model.poll();
  assert.deepEqual(api.queries[0].orderBy, ['metrics.`acc` DESC', 'attributes.start_time DESC']);
  assert.equal(api.queries[0].maxResults, 12);
  assert.equal(model.runCount, 12);
  model.dispose();
});

test('no poll while pages stream in: the next page would replace what it found', async () => {
  const api = new FakeRunsApi();
  api.runsList = many(6);
  const model = new RunsModel(api, 5, { first: 2, next: 2, max: 100 });
  const gate = deferred();
  let gated = false;
  model.changed.connect(() => {
    if (model.state === 'partial' && !gated) {
      gated = true;
      api.gate = gate.promise;
    }
  });
  const loading = model.reload();
  await until(() => gated, 'the first page');
  await settle();
  const asked = api.queries.length;
  await model.poll();
  assert.equal(api.queries.length, asked);
  gate.resolve();
  await loading;
  assert.equal(model.state, 'ready');
  await model.poll();
  assert.equal(api.queries.length, asked + 2, 'the last page, then the poll once ready');
  model.dispose();
});
