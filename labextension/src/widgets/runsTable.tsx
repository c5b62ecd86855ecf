/**
 * The runs table: fixed-height rows, only the visible ones in the DOM, so scrolling 10,000 runs
 * costs the same as scrolling 30. Rows are memoized: scrolling renders only rows coming into
 * view. Header cells sort; rows select (shift: range); names open the run.
 */

import * as React from 'react';

import {
  formatDuration,
  formatNumber,
  formatShortTime,
  formatTimestamp
} from '../logic/format';
import { columnId, columnValue, runDuration, sameColumn } from '../logic/runs';
import { IColumn, IRun, ISort, SortKey } from '../logic/types';
import { visibleWindow } from '../logic/windowing';

export const ROW_HEIGHT = 26;
/** Durations of running runs advance in steps of this, not on every render. */
const CLOCK_MS = 5000;

interface IFixedColumn {
  key: SortKey;
  label: string;
  width: number;
}

const FIXED: IFixedColumn[] = [
  { key: { kind: 'attr', key: 'status' }, label: '', width: 22 },
  { key: { kind: 'attr', key: 'run_name' }, label: 'Run', width: 140 },
  { key: { kind: 'attr', key: 'start_time' }, label: 'Started', width: 100 },
  { key: { kind: 'attr', key: 'duration' }, label: 'Duration', width: 68 }
];
const CHECK_WIDTH = 26;
const VALUE_WIDTH = 92;

export interface IRunsTableProps {
  runs: IRun[];
  columns: IColumn[];
  sort: ISort;
  selected: ReadonlySet<string>;
  onSort: (sort: ISort) => void;
  onToggle: (runId: string, range: boolean) => void;
  onOpen: (run: IRun) => void;
}

interface IRowProps {
  run: IRun;
  selected: boolean;
  columns: IColumn[];
  template: string;
  now: number;
  onToggle: (runId: string, range: boolean) => void;
  onOpen: (run: IRun) => void;
}

const Row = React.memo(function Row(props: IRowProps): JSX.Element {
  const { run, selected } = props;
  return (
    <div
      className={`nt-RunsTable-row${selected ? ' nt-mod-selected' : ''}`}
      style={{ gridTemplateColumns: props.template, height: ROW_HEIGHT }}
      data-run-id={run.run_id}
      role="row"
      aria-selected={selected}
      onClick={e => props.onToggle(run.run_id, e.shiftKey)}
      onDoubleClick={() => props.onOpen(run)}
    >
      <span className="nt-cell" role="cell">
        <input
          type="checkbox"
          className="nt-RunsTable-check"
          checked={selected}
          aria-label={`select ${run.run_name}`}
          onChange={() => undefined}
        />
      </span>
      <span className="nt-cell" role="cell" title={run.status}>
        <span className={`nt-status nt-status-${run.status}`} />
      </span>
      <span className="nt-cell nt-RunsTable-name" role="cell" title={run.run_id}>
        <a
          href="#"
          onClick={e => {
            e.preventDefault();
            e.stopPropagation();
            props.onOpen(run);
          }}
        >
          {run.run_name || run.run_id.slice(0, 8)}
        </a>
      </span>
      <span className="nt-cell" role="cell" title={formatTimestamp(run.start_time)}>
        {formatShortTime(run.start_time, props.now)}
      </span>
      <span className="nt-cell nt-num" role="cell">
        {formatDuration(runDuration(run, props.now))}
      </span>
      {props.columns.map(c => {
        const v = columnValue(run, c);
        const text = typeof v === 'number' || v === null ? formatNumber(v) : (v ?? '');
        return (
          <span
            key={columnId(c)}
            className={`nt-cell${c.kind === 'metric' ? ' nt-num' : ''}`}
            role="cell"
            title={String(v ?? '')}
          >
            {text}
          </span>
        );
      })}
    </div>
  );
});

export function RunsTable(props: IRunsTableProps): JSX.Element {
  const scroller = React.useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = React.useState(0);
  const [viewport, setViewport] = React.useState(400);

  React.useEffect(() => {
    const el = scroller.current;
    if (!el) {
      return;
    }
    const observer = new ResizeObserver(() => setViewport(el.clientHeight));
    observer.observe(el);
    setViewport(el.clientHeight);
    return () => observer.disconnect();
  }, []);

  const onScroll = React.useCallback(() => {
    const el = scroller.current;
    if (el) {
      setScrollTop(el.scrollTop);
    }
  }, []);

  const now = Math.floor(Date.now() / CLOCK_MS) * CLOCK_MS;
  const win = visibleWindow(scrollTop, viewport - ROW_HEIGHT, ROW_HEIGHT, props.runs.length);
  const columns = props.columns;
  const template = React.useMemo(
    () =>
      [
        `${CHECK_WIDTH}px`,
        ...FIXED.map(c => `${c.width}px`),
        ...columns.map(() => `${VALUE_WIDTH}px`)
      ].join(' '),
    [columns]
  );
  const width =
    CHECK_WIDTH + FIXED.reduce((s, c) => s + c.width, 0) + columns.length * VALUE_WIDTH;

  const sortBy = (key: SortKey): void => {
    const same = sameColumn(key, props.sort.by);
    const textual = key.kind === 'attr' && key.key === 'run_name';
    props.onSort({ by: key, descending: same ? !props.sort.descending : !textual });
  };
  const arrow = (key: SortKey): string =>
    sameColumn(key, props.sort.by) ? (props.sort.descending ? ' ▼' : ' ▲') : '';

  const rows: JSX.Element[] = [];
  for (let i = win.start; i < win.end; i++) {
    const run = props.runs[i];
    rows.push(
      <Row
        key={run.run_id}
        run={run}
        selected={props.selected.has(run.run_id)}
        columns={columns}
        template={template}
        now={now}
        onToggle={props.onToggle}
        onOpen={props.onOpen}
      />
    );
  }

  return (
    <div className="nt-RunsTable" ref={scroller} onScroll={onScroll} role="table">
      <div style={{ width }}>
        <div
          className="nt-RunsTable-header"
          style={{ gridTemplateColumns: template, height: ROW_HEIGHT }}
          role="row"
        >
          <span className="nt-cell" />
          {FIXED.map(c => (
            <span
              key={columnId(c.key)}
              className="nt-cell nt-sortable"
              role="columnheader"
              onClick={() => sortBy(c.key)}
              title={`Sort by ${c.label || 'status'}`}
            >
              {c.label}
              {arrow(c.key)}
            </span>
          ))}
          {columns.map(c => (
            <span
              key={columnId(c)}
              className={`nt-cell nt-sortable nt-col-${c.kind}`}
              role="columnheader"
              onClick={() => sortBy(c)}
              title={`${c.kind} ${c.key}: click to sort`}
            >
              {c.key}
              {arrow(c)}
            </span>
          ))}
        </div>
        <div className="nt-RunsTable-body" style={{ height: win.totalHeight }}>
          <div style={{ transform: `translateY(${win.offsetTop}px)` }}>{rows}</div>
        </div>
      </div>
    </div>
  );
}
