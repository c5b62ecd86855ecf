/**
 * The runs table: fixed-height rows, only the visible ones in the DOM, so scrolling 10,000 runs
 * costs the same as scrolling 30. Header cells sort; rows select (shift: range); names open.
 */

import * as React from 'react';

import { formatDuration, formatNumber, formatTimestamp } from '../logic/format';
import { columnId, columnValue, runDuration, sameColumn } from '../logic/runs';
import { IColumn, IRun, ISort, SortKey } from '../logic/types';
import { visibleWindow } from '../logic/windowing';

export const ROW_HEIGHT = 26;

interface IFixedColumn {
  key: SortKey;
  label: string;
  width: number;
}

const FIXED: IFixedColumn[] = [
  { key: { kind: 'attr', key: 'status' }, label: '', width: 22 },
  { key: { kind: 'attr', key: 'run_name' }, label: 'Run', width: 150 },
  { key: { kind: 'attr', key: 'start_time' }, label: 'Started', width: 140 },
  { key: { kind: 'attr', key: 'duration' }, label: 'Duration', width: 70 }
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

function headerLabel(c: IColumn): string {
  return c.key;
}

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

  const now = Date.now();
  const win = visibleWindow(scrollTop, viewport - ROW_HEIGHT, ROW_HEIGHT, props.runs.length);
  const template = [
    `${CHECK_WIDTH}px`,
    ...FIXED.map(c => `${c.width}px`),
    ...props.columns.map(() => `${VALUE_WIDTH}px`)
  ].join(' ');
  const width =
    CHECK_WIDTH + FIXED.reduce((s, c) => s + c.width, 0) + props.columns.length * VALUE_WIDTH;

  const sortBy = (key: SortKey): void => {
    const same = sameColumn(key, props.sort.by);
    props.onSort({ by: key, descending: same ? !props.sort.descending : key.kind !== 'attr' || key.key !== 'run_name' });
  };
  const arrow = (key: SortKey): string =>
    sameColumn(key, props.sort.by) ? (props.sort.descending ? ' ▼' : ' ▲') : '';

  const rows: JSX.Element[] = [];
  for (let i = win.start; i < win.end; i++) {
    const run = props.runs[i];
    const selected = props.selected.has(run.run_id);
    rows.push(
      <div
        key={run.run_id}
        className={`nt-RunsTable-row${selected ? ' nt-mod-selected' : ''}`}
        style={{ gridTemplateColumns: template, height: ROW_HEIGHT }}
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
        <span className="nt-cell" role="cell">
          {formatTimestamp(run.start_time)}
        </span>
        <span className="nt-cell nt-num" role="cell">
          {formatDuration(runDuration(run, now))}
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
          {props.columns.map(c => (
            <span
              key={columnId(c)}
              className={`nt-cell nt-sortable nt-col-${c.kind}`}
              role="columnheader"
              onClick={() => sortBy(c)}
              title={`${c.kind} ${c.key}: click to sort`}
            >
              {headerLabel(c)}
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
