import assert from 'node:assert/strict';
import { test } from 'node:test';

import { isSystemMetric, splitSystemMetrics, withMetrics } from '../logic/system';
import { IRun } from '../logic/types';

test('system metrics are split from the user metrics, node ids included', () => {
  const { user, system } = splitSystemMetrics({
    loss: 0.1,
    'system/cpu_utilization_percentage': 12,
    'system/node-2/gpu_0_utilization_percentage': 80,
    'systemic/drift': 3
  });
  assert.deepEqual(Object.keys(user).sort(), ['loss', 'systemic/drift']);
  assert.deepEqual(Object.keys(system).sort(), [
    'system/cpu_utilization_percentage',
    'system/node-2/gpu_0_utilization_percentage'
  ]);
  assert.equal(isSystemMetric('system'), false);
});

test('a run seen with some of its metrics keeps everything else', () => {
  const run = { run_id: 'a', run_name: 'a', metrics: { x: 1, y: 2 } } as unknown as IRun;
  const view = withMetrics(run, { x: 1 });
  assert.deepEqual(view.metrics, { x: 1 });
  assert.equal(view.run_id, 'a');
  assert.deepEqual(run.metrics, { x: 1, y: 2 });
});
