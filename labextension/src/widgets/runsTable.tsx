/**
 * The runs table: fixed-height rows, only the visible ones in the DOM, so scrolling 100,000
 * runs costs the same as scrolling 30. Rows are memoized: scrolling renders only rows coming
 * into view. The name column sticks to the left so the metric columns scroll beside it at the
 * sidebar's default width; child runs sit under their parent (▸ expands). Header cells sort;
 * rows select (shift: range); names open the run; the arrow keys, Space and Enter do the same
 * from the keyboard.
 */

import * as React from 'react';

import {
  formatDuration,
  formatNumber,
  formatShortTime,
  formatTimestamp
} from '../logic/format';
import { ITreeRow } from '../logic/groups';
import { columnId, columnValue, runDuration, sameColumn } from '../logic/runs';
import { IColumn, IRun, ISort, SortKey } from '../logic/types';
import { visibleWindow } from '../logic/windowing';

export const ROW_HEIGHT = 26;
/** Durations of running runs advance in steps of this, not on every render. */
const CLOCK_MS = 5000;
const NAME_WIDTH = 140;
const VALUE_WIDTH = 84;
const EXPERIMENT_WIDTH = 110;
const STARTED_WIDTH = 92;
const DURATION_WIDTH = 64;
const INDENT = 12;
/** The main-area table's widths: room for long run names and full values. */
const WIDE_NAME_WIDTH = 260;
const WIDE_VALUE_WIDTH = 112;
const WIDE_DURATION_WIDTH = 84;

const NAME_KEY: SortKey = { kind: 'attr', key: 'run_name' };
const STATUS_KEY: SortKey = { kind: 'attr', key: 'status' };
const STARTED_KEY: SortKey = { kind: 'attr', key: 'start_time' };
const DURATION_KEY: SortKey = { kind: 'attr', key: 'duration' };

export interface IRunsTableProps {
  rows: ITreeRow[];
  columns: IColumn[];
  sort: ISort;
  selected: ReadonlySet<string>;
  focused: string | null;
  /** Bumped when the focused run must be scrolled into view. */
  revealCount: number;
  /** A new value (a new filter, experiment or sort) scrolls back to the first row. */
  scrollKey?: string;
  /** Experiment names by id, for the experiment column (absent: no such column). */
  experimentNames: Map<string, string> | null;
  onSort: (sort: ISort) => void;
  onToggle: (runId: string, range: boolean) => void;
  onOpen: (run: IRun) => void;
  onExpand: (runId: string, open?: boolean) => void;
  onFocus: (runId: string | null) => void;
  /** Wider name and value columns (the main-area table). */
  wide?: boolean;
}

interface IRowProps {
  row: ITreeRow;
  selected: boolean;
  focused: boolean;
  columns: IColumn[];
  template: string;
  now: number;
  experiment: string | null;
  onToggle: (runId: string, range: boolean) => void;
  onOpen: (run: IRun) => void;
  onExpand: (runId: string, open?: boolean) => void;
}

const Row = React.memo(function Row(props: IRowProps): JSX.Element {
  const { row, selected } = props;
  const run = row.run;
  const cls =
    'nt-RunsTable-row' +
    (selected ? ' nt-mod-selected' : '') +
    (props.focused ? ' nt-mod-focused' : '') +
    (row.depth ? ' nt-mod-child' : '');
  return (
    <div
      className={cls}
      style={{ gridTemplateColumns: props.template, height: ROW_HEIGHT }}
      data-run-id={run.run_id}
      data-depth={row.depth}
      data-children={row.children}
      role="row"
      aria-selected={selected}
      aria-level={row.depth + 1}
      aria-expanded={row.children ? row.expanded : undefined}
      onClick={e => props.onToggle(run.run_id, e.shiftKey)}
      onDoubleClick={() => props.onOpen(run)}
    >
      <span
        className="nt-cell nt-RunsTable-nameCell"
        role="cell"
        style={{ paddingLeft: 2 + row.depth * INDENT }}
      >
        <input
          type="checkbox"
          className="nt-RunsTable-check"
          checked={selected}
          aria-label={`select ${run.run_name}`}
          tabIndex={-1}
          onChange={() => undefined}
        />
        {row.children ? (
          <button
            className="nt-Expand"
            tabIndex={-1}
            title={`${row.expanded ? 'Hide' : 'Show'} ${row.children} child run${row.children === 1 ? '' : 's'}`}
            aria-label={row.expanded ? 'collapse' : 'expand'}
            onClick={e => {
              e.stopPropagation();
              props.onExpand(run.run_id);
            }}
            onDoubleClick={e => e.stopPropagation()}
          >
            {row.expanded ? '▾' : '▸'}
          </button>
        ) : (
          <span className="nt-Expand-spacer" />
        )}
        <span className={`nt-status nt-status-${run.status}`} title={run.status} />
        <span className="nt-RunsTable-name" title={`${run.run_name}\n${run.run_id}`}>
          <a
            href="#"
            tabIndex={-1}
            onClick={e => {
              e.preventDefault();
              e.stopPropagation();
              props.onOpen(run);
            }}
          >
            {run.run_name || run.run_id.slice(0, 8)}
          </a>
        </span>
        {row.children > 0 && <span className="nt-ChildCount">{row.children}</span>}
      </span>
      {props.columns.map(c => {
        const v = columnValue(run, c);
        const text = typeof v === 'number' || v === null ? formatNumber(v) : (v ?? '');
        return (
          <span
            key={columnId(c)}
            className={`nt-cell${c.kind === 'metric' ? ' nt-num' : ''}`}
            role="cell"
            title={`${c.key}: ${String(v ?? '')}`}
          >
            {text}
          </span>
        );
      })}
      {props.experiment !== null && (
        <span className="nt-cell nt-RunsTable-experiment" role="cell" title={props.experiment}>
          {props.experiment}
        </span>
      )}
      <span className="nt-cell" role="cell" title={formatTimestamp(run.start_time)}>
        {formatShortTime(run.start_time, props.now)}
      </span>
      <span className="nt-cell nt-num" role="cell">
        {formatDuration(runDuration(run, props.now))}
      </span>
    </div>
  );
});

/** Index of the row to move to for a navigation key, or null for other keys. */
function moveIndex(key: string, current: number, count: number, page: number): number | null {
  switch (key) {
    case 'ArrowDown':
      return Math.min(count - 1, current + 1);
    case 'ArrowUp':
      return Math.max(0, current - 1);
    case 'PageDown':
      return Math.min(count - 1, current + page);
    case 'PageUp':
      return Math.max(0, current - page);
    case 'Home':
      return 0;
    case 'End':
      return count - 1;
  }
  return null;
}

export function RunsTable(props: IRunsTableProps): JSX.Element {
  const scroller = React.useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = React.useState(0);
  const [viewport, setViewport] = React.useState(400);
  const { rows, columns } = props;

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

  const indexOf = (runId: string | null): number =>
    runId === null ? -1 : rows.findIndex(r => r.run.run_id === runId);

  const scrollToIndex = (i: number): void => {
    const el = scroller.current;
    if (!el || i < 0) {
      return;
    }
    const top = i * ROW_HEIGHT;
    const body = el.clientHeight - ROW_HEIGHT;
    if (top < el.scrollTop) {
      el.scrollTop = top;
    } else if (top + ROW_HEIGHT > el.scrollTop + body) {
      el.scrollTop = top + ROW_HEIGHT - body;
    }
  };

  // Before the reveal's effect: a link's reload changes both, and the revealed run wins.
  const firstKey = React.useRef(props.scrollKey);
  React.useEffect(() => {
    const el = scroller.current;
    if (el && props.scrollKey !== firstKey.current) {
      firstKey.current = props.scrollKey;
      el.scrollTop = 0;
    }
  }, [props.scrollKey]);

  React.useEffect(() => {
    if (props.revealCount > 0) {
      const i = indexOf(props.focused);
      const el = scroller.current;
      if (el && i >= 0) {
        el.scrollTop = Math.max(0, i * ROW_HEIGHT - el.clientHeight / 3);
      }
    }
    // Only a new reveal scrolls; keyboard moves scroll in onKeyDown.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [props.revealCount]);

  // Keys can come faster than renders: the latest focus is kept here, not only in props.
  const focusRef = React.useRef<string | null>(props.focused);
  React.useEffect(() => {
    focusRef.current = props.focused;
  }, [props.focused]);
  const focus = (runId: string | null): void => {
    focusRef.current = runId;
    props.onFocus(runId);
  };

  const onKeyDown = (e: React.KeyboardEvent): void => {
    if (rows.length === 0 || e.target !== scroller.current) {
      return;
    }
    const current = indexOf(focusRef.current);
    const page = Math.max(1, Math.floor(viewport / ROW_HEIGHT) - 1);
    const to = moveIndex(e.key, current < 0 ? -1 : current, rows.length, page);
    const row = current >= 0 ? rows[current] : null;
    if (to !== null) {
      const target = current < 0 && e.key === 'ArrowDown' ? 0 : to;
      focus(rows[target].run.run_id);
      if (e.shiftKey) {
        props.onToggle(rows[target].run.run_id, true);
      }
      scrollToIndex(target);
    } else if (row && (e.key === ' ' || e.key === 'Spacebar')) {
      props.onToggle(row.run.run_id, e.shiftKey);
    } else if (row && e.key === 'Enter') {
      props.onOpen(row.run);
    } else if (row && e.key === 'ArrowRight' && row.children) {
      props.onExpand(row.run.run_id, true);
    } else if (row && e.key === 'ArrowLeft') {
      if (row.children && row.expanded) {
        props.onExpand(row.run.run_id, false);
      } else if (row.depth > 0 && row.run.parent_run_id) {
        focus(row.run.parent_run_id);
        scrollToIndex(indexOf(row.run.parent_run_id));
      }
    } else {
      return;
    }
    e.preventDefault();
  };

  const now = Math.floor(Date.now() / CLOCK_MS) * CLOCK_MS;
  const win = visibleWindow(scrollTop, viewport - ROW_HEIGHT, ROW_HEIGHT, rows.length);
  const names = props.experimentNames;
  const hasNames = names !== null;
  const nameWidth = props.wide ? WIDE_NAME_WIDTH : NAME_WIDTH;
  const valueWidth = props.wide ? WIDE_VALUE_WIDTH : VALUE_WIDTH;
  const durationWidth = props.wide ? WIDE_DURATION_WIDTH : DURATION_WIDTH;
  const template = React.useMemo(
    () =>
      [
        `${nameWidth}px`,
        ...columns.map(() => `${valueWidth}px`),
        ...(hasNames ? [`${EXPERIMENT_WIDTH}px`] : []),
        `${STARTED_WIDTH}px`,
        `${durationWidth}px`
      ].join(' '),
    [columns, hasNames, nameWidth, valueWidth, durationWidth]
  );
  const width =
    nameWidth +
    columns.length * valueWidth +
    (names ? EXPERIMENT_WIDTH : 0) +
    STARTED_WIDTH +
    durationWidth;

  const sortBy = (key: SortKey): void => {
    const same = sameColumn(key, props.sort.by);
    const textual = key.kind === 'attr' && key.key === 'run_name';
    props.onSort({ by: key, descending: same ? !props.sort.descending : !textual });
  };
  const arrow = (key: SortKey): string =>
    sameColumn(key, props.sort.by) ? (props.sort.descending ? ' ▼' : ' ▲') : '';
  const header = (key: SortKey, label: string, title: string, cls = ''): JSX.Element => (
    <span
      key={columnId(key)}
      className={`nt-cell nt-sortable ${cls}`}
      role="columnheader"
      onClick={() => sortBy(key)}
      title={title}
    >
      {label}
      {arrow(key)}
    </span>
  );

  const out: JSX.Element[] = [];
  for (let i = win.start; i < win.end; i++) {
    const row = rows[i];
    const run = row.run;
    out.push(
      <Row
        key={run.run_id}
        row={row}
        selected={props.selected.has(run.run_id)}
        focused={props.focused === run.run_id}
        columns={columns}
        template={template}
        now={now}
        experiment={names ? (names.get(run.experiment_id) ?? run.experiment_id) : null}
        onToggle={props.onToggle}
        onOpen={props.onOpen}
        onExpand={props.onExpand}
      />
    );
  }

  return (
    <div
      className="nt-RunsTable"
      ref={scroller}
      onScroll={onScroll}
      onKeyDown={onKeyDown}
      tabIndex={0}
      role="treegrid"
      aria-label="Runs (arrow keys move, Space selects, Enter opens, ←/→ collapse/expand)"
    >
      <div style={{ width }}>
        <div
          className="nt-RunsTable-header"
          style={{ gridTemplateColumns: template, height: ROW_HEIGHT }}
          role="row"
        >
          <span className="nt-cell nt-RunsTable-nameCell nt-RunsTable-nameHeader">
            <span
              className="nt-sortable nt-StatusSort"
              role="columnheader"
              title="Sort by status"
              onClick={() => sortBy(STATUS_KEY)}
            >
              ●{arrow(STATUS_KEY)}
            </span>
            <span
              className="nt-sortable"
              role="columnheader"
              title="Sort by name"
              onClick={() => sortBy(NAME_KEY)}
            >
              Run{arrow(NAME_KEY)}
            </span>
          </span>
          {columns.map(c =>
            header(c, c.key, `${c.kind} ${c.key}: click to sort`, `nt-col-${c.kind}`)
          )}
          {names && (
            <span className="nt-cell" role="columnheader">
              Experiment
            </span>
          )}
          {header(STARTED_KEY, 'Started', 'Sort by start time')}
          {header(DURATION_KEY, 'Duration', 'Sort by duration', 'nt-num')}
        </div>
        <div className="nt-RunsTable-body" style={{ height: win.totalHeight }}>
          <div style={{ transform: `translateY(${win.offsetTop}px)` }}>{out}</div>
        </div>
      </div>
    </div>
  );
}
