import assert from 'node:assert/strict';
import { test } from 'node:test';

import { isLive, versionRows } from '../logic/models';
import { IRegisteredModel } from '../logic/types';

const model: IRegisteredModel = {
  name: 'times',
  description: null,
  latest_versions: [{ name: 'times', version: 2 }],
  aliases: { champion: 1, latest_good: 2 },
  tags: {}
};

test('versions are listed newest first with their aliases and serving state', () => {
  const rows = versionRows(
    model,
    [
      { name: 'times', version: 2, aliases: ['latest_good'], run_id: 'r2' },
      { name: 'times', version: 1, aliases: ['champion'], current_stage: 'None' }
    ],
    [{ name: 'times', version: 1, url: 'models/times/1/invocations', pid: 9, state: 'ready' }]
  );
  assert.deepEqual(
    rows.map(r => [r.version, r.aliases, r.runId, r.served?.state ?? null, r.stage]),
    [
      ['2', ['latest_good'], 'r2', null, ''],
      ['1', ['champion'], null, 'ready', '']
    ]
  );
});

test('without the versions listing the latest versions and the alias map are used', () => {
  const rows = versionRows(model, null, []);
  assert.deepEqual(
    rows.map(r => [r.version, r.aliases]),
    [['2', ['latest_good']]]
  );
});

test('a served version missing from the listing is still shown', () => {
  const rows = versionRows(model, null, [
    { name: 'times', version: 7, url: 'u', pid: 1, state: 'starting' },
    { name: 'other', version: 1, url: 'u', pid: 2, state: 'ready' }
  ]);
  assert.deepEqual(
    rows.map(r => r.version),
    ['7', '2']
  );
  assert.ok(isLive('starting') && isLive('ready') && !isLive('failed') && !isLive('stopped'));
});
