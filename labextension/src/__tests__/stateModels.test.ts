/** The Models tab's state and the live compare/details views' state, against in-memory APIs. */

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ApiError } from '../apiError';
import { CompareModel, RunDetailsModel } from '../liveRuns';
import { IRunsQuery } from '../logic/query';
import { IMetricHistory, IModelVersion, IRegisteredModel, IRun, IServedModel } from '../logic/types';
import { RegistryModel } from '../registryModel';
import { run, settle, until } from './fakes';

class FakeRegistry {
  models: IRegisteredModel[] = [
    { name: 'm', description: null, latest_versions: [{ name: 'm', version: 1 }], aliases: {}, tags: {} }
  ];
  versions: IModelVersion[] = [{ name: 'm', version: 1, aliases: [] }];
  served: IServedModel[] = [];
  modelsError: ApiError | null = null;
  servedError: ApiError | null = null;
  startError: ApiError | null = null;
  calls: string[] = [];

  models_(): Promise<IRegisteredModel[]> {
    this.calls.push('models');
    return this.modelsError ? Promise.reject(this.modelsError) : Promise.resolve(this.models);
  }
  modelVersions(name: string): Promise<IModelVersion[]> {
    return name === 'broken'
      ? Promise.reject(new ApiError('boom', 500))
      : Promise.resolve(this.versions.filter(v => v.name === name));
  }
  served_(): Promise<IServedModel[]> {
    return this.servedError ? Promise.reject(this.servedError) : Promise.resolve(this.served);
  }
  startServing(name: string, ref: { version?: string }): Promise<void> {
    this.calls.push(`start ${name}/${ref.version}`);
    if (this.startError) {
      return Promise.reject(this.startError);
    }
    this.served = [{ name, version: String(ref.version), state: 'ready', url: `models/${name}/invocations` } as IServedModel];
    return Promise.resolve();
  }
  stopServing(name: string, version?: number | string): Promise<void> {
    this.calls.push(`stop ${name}/${version}`);
    this.served = [];
    return Promise.resolve();
  }
  api() {
    return {
      models: () => this.models_(),
      modelVersions: (n: string) => this.modelVersions(n),
      served: () => this.served_(),
      startServing: (n: string, r: { version?: string }) => this.startServing(n, r),
      stopServing: (n: string, v?: number | string) => this.stopServing(n, v)
    };
  }
}

test('the models tab loads models with their versions and serving state', async () => {
  const fake = new FakeRegistry();
  fake.models.push({ name: 'broken', description: null, aliases: {}, tags: {} } as IRegisteredModel);
  const model = new RegistryModel(fake.api());
  assert.equal(model.loading, true);
  await model.load();
  assert.equal(model.loading, false);
  assert.deepEqual(model.models.map(m => m.name), ['m', 'broken']);
  assert.deepEqual(model.versions.m?.map(v => v.version), [1]);
  assert.equal(model.versions.broken, null, 'one unreadable model does not fail the tab');
  assert.equal(model.error, null);
  model.dispose();
});

test('a server without registry endpoints is "unavailable"; without serving, nothing is served', async () => {
  const fake = new FakeRegistry();
  fake.servedError = new ApiError('no serving', 404);
  const model = new RegistryModel(fake.api());
  await model.load();
  assert.equal(model.unavailable, false);
  assert.deepEqual(model.served, []);
  fake.modelsError = new ApiError('Not Found', 404);
  await model.load();
  assert.equal(model.unavailable, true);
  assert.equal(model.error, null);
  fake.modelsError = new ApiError('store is down', 503);
  await model.load();
  assert.equal(model.error, 'store is down');
  model.dispose();
});

test('serve and stop mark the version busy, then reload to show the new state', async () => {
  const fake = new FakeRegistry();
  const model = new RegistryModel(fake.api());
  await model.load();
  const busy: (string | null)[] = [];
  model.changed.connect(() => busy.push(model.busy));
  await model.serve('m', '1');
  assert.equal(busy[0], 'm/1');
  assert.equal(model.busy, null);
  assert.deepEqual(model.served.map(s => s.version), ['1']);
  await model.stop('m', '1');
  assert.deepEqual(model.served, []);
  assert.deepEqual(fake.calls.filter(c => !c.startsWith('models')), ['start m/1', 'stop m/1']);
  fake.startError = new ApiError('port in use', 409);
  await model.serve('m', '1');
  assert.equal(model.error, 'port in use');
  assert.equal(model.busy, null);
  model.dispose();
});

test('the models tab polls only while shown', async t => {
  const fake = new FakeRegistry();
  const model = new RegistryModel(fake.api(), 10);
  t.after(() => model.dispose());
  model.active = true;
  await until(() => fake.calls.length >= 3, 'a load at once, then polls');
  model.active = false;
  await settle(15);
  const shown = fake.calls.length;
  await settle(40);
  assert.equal(fake.calls.length, shown);
  model.dispose();
});

class FakeRuns {
  byId = new Map<string, IRun>();
  failing = new Set<string>();
  reads = 0;
  siblingQueries: IRunsQuery[] = [];
  api() {
    return {
      run: (id: string): Promise<IRun> => {
        this.reads++;
        const r = this.byId.get(id);
        return r && !this.failing.has(id) ? Promise.resolve(r) : Promise.reject(new ApiError('gone', 404));
      },
      runs: (q: IRunsQuery) => {
        this.siblingQueries.push(q);
        const runs = [...this.byId.values()].filter(r => q.experimentIds?.includes(r.experiment_id));
        return Promise.resolve({ runs, next_page_token: null, total: runs.length });
      },
      history: (): Promise<IMetricHistory> => Promise.reject(new Error('not used'))
    };
  }
}

test('a running run is re-read until it finishes, once more for its final values, then no more', async t => {
  const fake = new FakeRuns();
  fake.byId.set('a', run('a', { status: 'RUNNING', metrics: { loss: 1 } }));
  const model = new RunDetailsModel(fake.api(), run('a', { status: 'RUNNING' }), 10);
  t.after(() => model.dispose());
  await model.refresh();
  assert.equal(model.version, 1);
  assert.equal(model.run.metrics.loss, 1);
  fake.byId.set('a', run('a', { status: 'RUNNING', metrics: { loss: 0.5 } }));
  await until(() => model.run.metrics.loss === 0.5, 'the next re-read');
  assert.ok(model.version >= 2);
  fake.byId.set('a', run('a', { status: 'FINISHED', metrics: { loss: 0.1 } }));
  await until(() => model.run.status === 'FINISHED', 'the finished state');
  assert.equal(model.run.metrics.loss, 0.1);
  const reads = fake.reads;
  await settle(40);
  assert.equal(fake.reads, reads, 'a finished run is not polled');
  model.dispose();
});

test('a hidden view skips its re-reads and picks them up when shown again', async t => {
  const fake = new FakeRuns();
  fake.byId.set('a', run('a', { status: 'RUNNING' }));
  const model = new CompareModel(fake.api(), [run('a', { status: 'RUNNING' })], 10);
  t.after(() => model.dispose());
  await model.refresh();
  model.visible = false;
  const reads = fake.reads;
  await settle(40);
  assert.equal(fake.reads, reads);
  model.visible = true;
  await until(() => fake.reads > reads, 're-reads once shown');
  model.dispose();
  const after = fake.reads;
  await settle(30);
  assert.equal(fake.reads, after, 'a closed view stops polling');
});

test('compare keeps a run that cannot be re-read, and toggles differences only', async () => {
  const fake = new FakeRuns();
  fake.byId.set('a', run('a', { metrics: { acc: 0.9 } }));
  fake.failing.add('b');
  const model = new CompareModel(fake.api(), [run('a'), run('b', { run_name: 'kept' })]);
  let emitted = 0;
  model.changed.connect(() => emitted++);
  await model.refresh();
  assert.deepEqual(model.runs.map(r => [r.run_id, r.run_name]), [
    ['a', 'a'],
    ['b', 'kept']
  ]);
  assert.equal(model.runs[0].metrics.acc, 0.9);
  model.diffOnly = true;
  assert.equal(model.diffOnly, true);
  model.themeChanged();
  assert.equal(model.themeKey, 1);
  assert.equal(emitted, 3);
  model.dispose();
});

test('run details list the other runs of the experiment and keep a failed notebook jump', async () => {
  const fake = new FakeRuns();
  fake.byId.set('a', run('a', { experiment_id: '7' }));
  fake.byId.set('b', run('b', { experiment_id: '7' }));
  fake.byId.set('c', run('c', { experiment_id: '8' }));
  const model = new RunDetailsModel(fake.api(), run('a', { experiment_id: '7' }));
  const before = model.siblings;
  assert.equal(before, null, 'loading');
  await model.loadSiblings();
  assert.deepEqual(model.siblings?.map(r => r.run_id), ['b']);
  assert.deepEqual(fake.siblingQueries[0].experimentIds, ['7']);
  await model.openNotebook(() => Promise.reject(new Error('notebook work/x.ipynb not found')));
  assert.equal(model.navError, 'notebook work/x.ipynb not found');
  await model.openNotebook(() => Promise.resolve());
  assert.equal(model.navError, null);
  model.dispose();
});
