/** The runs part of the sidebar: experiment picker, filter box, toolbar, columns, table. */

import { UseSignal } from '@jupyterlab/ui-components';
import * as React from 'react';

import { countText } from '../logic/pages';
import { columnId, toggleSelection } from '../logic/runs';
import { IColumn, IRun } from '../logic/types';
import { RunsModel } from '../model';
import { RunsTable } from './runsTable';

export interface IRunsViewProps {
  model: RunsModel;
  onCompare: () => void;
  onOpen: (run: IRun) => void;
  /** 'main': the wide table of the main area, every metric and param a column. */
  layout?: 'sidebar' | 'main';
  /** Open the runs table in the main area (the sidebar's button). */
  onOpenTable?: () => void;
}

/** Columns of the main-area table: every metric, then every param (capped to stay fast). */
const MAX_MAIN_COLUMNS = 200;

const FILTER_DELAY_MS = 400;

function FilterBox(props: { model: RunsModel }): JSX.Element {
  const { model } = props;
  const [text, setText] = React.useState(model.filter);
  const timer = React.useRef<number | null>(null);
  // A run link may clear the filter to show its run: the box follows.
  React.useEffect(() => {
    if (timer.current === null) {
      setText(model.filter);
    }
  }, [model.filter]);
  const apply = (value: string): void => {
    if (timer.current !== null) {
      window.clearTimeout(timer.current);
      timer.current = null;
    }
    if (value !== model.filter) {
      void model.setFilter(value);
    }
  };
  return (
    <div className="nt-Filter">
      <input
        className="nt-Filter-input jp-mod-styled"
        type="search"
        placeholder="metrics.acc > 0.9 and params.lr = '0.01'"
        aria-label="Filter runs"
        title={
          'The search_runs grammar, terms joined by "and":\n' +
          "  metrics.acc > 0.9\n  params.optimizer = 'adam'\n" +
          "  tags.`notebook_tracker.cell_id` = 'abc'\n" +
          "  attributes.status = 'FINISHED'\n  attributes.run_name LIKE 'sweep-%'"
        }
        spellCheck={false}
        value={text}
        onChange={e => {
          const value = e.target.value;
          setText(value);
          if (timer.current !== null) {
            window.clearTimeout(timer.current);
          }
          timer.current = window.setTimeout(() => apply(value), FILTER_DELAY_MS);
        }}
        onKeyDown={e => {
          if (e.key === 'Enter') {
            apply(e.currentTarget.value);
          }
        }}
      />
      {model.filterError && (
        <div className="nt-Filter-error" role="alert">
          {model.filterError}
        </div>
      )}
    </div>
  );
}

function ColumnsPicker(props: {
  model: RunsModel;
  columns: IColumn[];
  onToggle: (column: IColumn) => void;
  onClose: () => void;
}): JSX.Element {
  const { model } = props;
  const chosen = new Set(props.columns.map(columnId));
  const toggle = props.onToggle;
  const group = (kind: 'param' | 'metric', keys: string[]): JSX.Element => (
    <fieldset>
      <legend>{kind === 'metric' ? 'Metrics' : 'Params'}</legend>
      {keys.length === 0 && <div className="nt-muted">none yet</div>}
      {keys.slice(0, 300).map(key => (
        <label key={key}>
          <input
            type="checkbox"
            checked={chosen.has(`${kind}:${key}`)}
            onChange={() => toggle({ kind, key })}
          />
          {key}
        </label>
      ))}
    </fieldset>
  );
  return (
    <div className="nt-ColumnsPicker">
      {group('metric', model.keys.metrics)}
      {group('param', model.keys.params)}
      <button className="jp-mod-styled" onClick={props.onClose}>
        Done
      </button>
    </div>
  );
}

const SEVERAL = '\u0000several';

/** Checkboxes to show the runs of several experiments at once. */
function ExperimentChecks(props: { model: RunsModel; onClose: () => void }): JSX.Element {
  const { model } = props;
  const chosen = new Set(model.experimentIds);
  const toggle = (id: string): void => {
    const next = new Set(chosen);
    if (next.has(id)) {
      next.delete(id);
    } else {
      next.add(id);
    }
    model.setExperiments([...next]);
  };
  return (
    <div className="nt-ColumnsPicker nt-ExperimentChecks">
      <fieldset>
        <legend>Experiments (none ticked: all)</legend>
        {model.experiments.map(e => (
          <label key={e.experiment_id}>
            <input
              type="checkbox"
              checked={chosen.has(e.experiment_id)}
              onChange={() => toggle(e.experiment_id)}
            />
            {e.name}
          </label>
        ))}
      </fieldset>
      <button className="jp-mod-styled" onClick={props.onClose}>
        Done
      </button>
    </div>
  );
}

/** Re-rendered at each change of the model (JupyterLab's UseSignal). */
export function RunsView(props: IRunsViewProps): JSX.Element {
  return (
    <UseSignal signal={props.model.changed}>{() => <RunsViewBody {...props} />}</UseSignal>
  );
}

function RunsViewBody(props: IRunsViewProps): JSX.Element {
  const { model } = props;
  const main = props.layout === 'main';
  const [picking, setPicking] = React.useState(false);
  const anchor = React.useRef<string | null>(null);
  const [several, setSeveral] = React.useState(false);
  const runs = model.runs;
  const tree = model.tree;
  const selectedCount = model.selectedIds.size;

  // The rows' order, read only for a shift-click range (mapping 100,000 rows each render is not free).
  const treeRef = React.useRef(tree);
  treeRef.current = tree;
  // Stable across renders, so memoized rows do not re-render when nothing about them changed.
  const onToggle = React.useCallback(
    (runId: string, range: boolean): void => {
      model.selectedIds = toggleSelection(model.selectedIds, runId, {
        range: range
          ? { ordered: treeRef.current.rows.map(r => r.run.run_id), anchor: anchor.current }
          : undefined
      });
      anchor.current = runId;
      model.focused = runId;
    },
    [model]
  );
  const onExpand = React.useCallback(
    (runId: string, open?: boolean) => model.toggleExpanded(runId, open),
    [model]
  );
  const onFocus = React.useCallback(
    (runId: string | null) => {
      model.focused = runId;
    },
    [model]
  );
  const showExperiment = model.experimentIds.length !== 1;
  const experimentNames = React.useMemo(
    () =>
      showExperiment ? new Map(model.experiments.map(e => [e.experiment_id, e.name])) : null,
    [showExperiment, model.experiments]
  );

  const keys = model.keys;
  const allColumns = React.useMemo(
    () =>
      [
        ...keys.metrics.map(key => ({ kind: 'metric' as const, key })),
        ...keys.params.map(key => ({ kind: 'param' as const, key }))
      ].slice(0, MAX_MAIN_COLUMNS),
    [keys]
  );
  // The main area shows every column but those the user hid there; the sidebar its own few.
  const [hidden, setHidden] = React.useState<ReadonlySet<string>>(new Set());
  const mainColumns = React.useMemo(
    () => allColumns.filter(c => !hidden.has(columnId(c))),
    [allColumns, hidden]
  );
  const columns = main ? mainColumns : model.columns;
  const toggleColumn = (c: IColumn): void => {
    const id = columnId(c);
    if (main) {
      const next = new Set(hidden);
      if (next.has(id)) {
        next.delete(id);
      } else {
        next.add(id);
      }
      setHidden(next);
    } else {
      model.columns = columns.some(x => columnId(x) === id)
        ? columns.filter(x => columnId(x) !== id)
        : [...columns, c];
    }
  };
  const focusedRun =
    main && model.focused !== null ? (runs.find(r => r.run_id === model.focused) ?? null) : null;

  const status =
    model.state === 'loading' && runs.length === 0
      ? { count: 'Loading runs…', hint: '', title: '' }
      : countText({
          loaded: runs.length,
          loading: model.state === 'partial' || model.state === 'loading',
          truncated: model.truncated,
          total: model.total,
          exact: model.totalExact
        });

  return (
    <div
      className={`nt-RunsView${main ? ' nt-mod-main' : ''}`}
      data-state={model.state}
      data-generation={model.generation}
    >
      <div className="nt-Controls">
        <select
          className="nt-ExperimentSelect jp-mod-styled"
          aria-label="Experiment"
          value={model.experimentIds.length > 1 ? SEVERAL : model.experimentId}
          onChange={e => {
            if (e.target.value === SEVERAL) {
              setSeveral(true);
            } else {
              setSeveral(false);
              model.setExperiment(e.target.value);
            }
          }}
        >
          <option value="">All experiments</option>
          {model.experiments.map(e => (
            <option key={e.experiment_id} value={e.experiment_id}>
              {e.name}
            </option>
          ))}
          <option value={SEVERAL}>
            {model.experimentIds.length > 1
              ? `${model.experimentIds.length} experiments`
              : 'Several experiments…'}
          </option>
        </select>
        {several && <ExperimentChecks model={model} onClose={() => setSeveral(false)} />}
        <FilterBox model={model} />
        <div className="nt-Toolbar">
          <button
            className="jp-mod-styled jp-mod-accept nt-CompareButton"
            disabled={selectedCount < 1}
            onClick={props.onCompare}
            title="Compare the selected runs side by side"
          >
            Compare{selectedCount ? ` (${selectedCount})` : ''}
          </button>
          <button
            className="jp-mod-styled"
            disabled={selectedCount < 1}
            onClick={() => model.clearSelection()}
            title="Clear the selection"
          >
            Clear
          </button>
          {main && (
            <button
              className="jp-mod-styled nt-DetailsButton"
              disabled={focusedRun === null}
              onClick={() => focusedRun && props.onOpen(focusedRun)}
              title="Open the details of the focused run (or double-click a row)"
            >
              Details
            </button>
          )}
          <button
            className="jp-mod-styled"
            onClick={() => setPicking(!picking)}
            title="Choose the param and metric columns"
          >
            Columns
          </button>
          <button
            className="jp-mod-styled nt-RefreshButton"
            onClick={() => void model.reload()}
            title="Reload the runs and experiments"
            aria-label="Refresh"
          >
            ↻
          </button>
          {props.onOpenTable && (
            <button
              className="jp-mod-styled nt-OpenTableButton"
              onClick={props.onOpenTable}
              title="Open the runs table in the main area: wide, every metric and param a column"
              aria-label="Open the runs table in the main area"
            >
              ⤢
            </button>
          )}
        </div>
        {picking && (
          <ColumnsPicker
            model={model}
            columns={columns}
            onToggle={toggleColumn}
            onClose={() => setPicking(false)}
          />
        )}
        <div className="nt-Status" title={status.title || undefined}>
          <span className="nt-RunCount">{status.count}</span>
          {status.hint && <span className="nt-RunCountHint">{status.hint}</span>}
        </div>
        {model.error && (
          <div className="nt-Error" role="alert">
            {model.error}
          </div>
        )}
      </div>
      {model.state !== 'loading' && runs.length === 0 && !model.error ? (
        <div className="nt-Empty">
          {model.filter.trim()
            ? 'No run matches this filter.'
            : 'No runs yet. Run a cell with %%track_run, or call notebook_tracker.start_run().'}
        </div>
      ) : (
        <RunsTable
          rows={tree.rows}
          columns={columns}
          wide={main}
          sort={model.sort}
          scrollKey={`${model.generation} ${model.order.join(',')} ${columnId(model.sort.by)}`}
          selected={model.selectedIds}
          focused={model.focused}
          revealCount={model.revealCount}
          experimentNames={experimentNames}
          onSort={s => model.setSort(s)}
          onToggle={onToggle}
          onOpen={props.onOpen}
          onExpand={onExpand}
          onFocus={onFocus}
        />
      )}
    </div>
  );
}
