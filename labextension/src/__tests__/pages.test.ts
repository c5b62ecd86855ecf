/** The page sizes of the runs list and their override (for watching paging on a small store). */

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { DEFAULT_PAGES, pageSizes } from '../logic/pages';
import { serverOrder } from '../logic/order';

test('no override, or one that is not JSON, keeps the default page sizes', () => {
  assert.deepEqual(pageSizes(null), DEFAULT_PAGES);
  assert.deepEqual(pageSizes('{first: 2'), DEFAULT_PAGES);
  assert.deepEqual(pageSizes('[3]'), DEFAULT_PAGES);
});

test('an override sets each valid size and ignores the bad ones', () => {
  assert.deepEqual(pageSizes('{"first": 20, "next": 50}'), { ...DEFAULT_PAGES, first: 20, next: 50 });
  assert.deepEqual(pageSizes('{"first": 0, "next": 2.5, "max": 1000000}'), DEFAULT_PAGES);
  assert.deepEqual(pageSizes('{"max": 300}'), { ...DEFAULT_PAGES, max: 300 });
});

test('a header sort maps to the server order, ties newest first', () => {
  assert.deepEqual(serverOrder({ by: { kind: 'attr', key: 'start_time' }, descending: false }), [
    'attributes.start_time ASC'
  ]);
  assert.deepEqual(serverOrder({ by: { kind: 'param', key: 'lr' }, descending: true }), [
    'params.`lr` DESC',
    'attributes.start_time DESC'
  ]);
  assert.equal(serverOrder({ by: { kind: 'attr', key: 'duration' }, descending: true }), null);
  assert.equal(serverOrder({ by: { kind: 'metric', key: 'a`b' }, descending: true }), null);
});
