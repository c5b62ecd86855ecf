/** One run: its attributes, params, metrics with curves, tags, artifacts and cell source. */

import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { ApiError, TrackerAPI } from '../api';
import { runColor } from '../logic/colors';
import { formatDuration, formatTimestamp } from '../logic/format';
import { CELL_SOURCE, notebookTarget } from '../logic/paths';
import { runDuration } from '../logic/runs';
import { splitSystemMetrics, withMetrics } from '../logic/system';
import { IRun } from '../logic/types';
import { ArtifactBrowser } from './artifacts';
import { Section } from './compareView';
import { LiveRefresher } from './live';
import { HistoryCache, MetricCharts } from './metricCharts';
import { ParamScatter } from './scatterChart';
import { KeyValueTable } from './tables';

/** How many runs of the experiment the scatter places this run among. */
const SIBLINGS = 1000;

export interface IDetailsOptions {
  api: TrackerAPI;
  run: IRun;
  onOpenNotebook: (run: IRun) => Promise<void>;
  onOpenText: (runId: string, path: string) => void;
}

function CellSource(props: { api: TrackerAPI; runId: string }): JSX.Element {
  const [source, setSource] = React.useState<string | null>(null);
  const [missing, setMissing] = React.useState<string | null>(null);
  React.useEffect(() => {
    const none = 'No cell source: this run was not logged by %%track_run.';
    // List the folder first: fetching a missing file would log a 404 in the browser console.
    const folder = CELL_SOURCE.slice(0, CELL_SOURCE.lastIndexOf('/'));
    void props.api
      .artifacts(props.runId, folder)
      .catch(() => [])
      .then(files => {
        if (!files.some(f => f.path === CELL_SOURCE)) {
          setMissing(none);
          return;
        }
        props.api.artifactText(props.runId, CELL_SOURCE).then(setSource, err =>
          setMissing(
            err instanceof ApiError && err.status === 404 ? none : (err as Error).message
          )
        );
      });
  }, [props.api, props.runId]);
  if (missing) {
    return <div className="nt-muted">{missing}</div>;
  }
  return source === null ? (
    <div className="nt-muted">loading…</div>
  ) : (
    <pre className="nt-CellSource">{source}</pre>
  );
}

export class RunDetails extends ReactWidget {
  constructor(private readonly options: IDetailsOptions) {
    super();
    this.addClass('nt-RunDetails');
    this._run = options.run;
    this._cache = new HistoryCache(options.api);
    this._live = new LiveRefresher(
      () => this.refresh(),
      () => this._run.status === 'RUNNING',
      () => this.isVisible
    );
    void this.refresh();
    void this._loadSiblings();
  }

  get run(): IRun {
    return this._run;
  }

  dispose(): void {
    this._live.dispose();
    super.dispose();
  }

  /** Re-read the run and its histories (every few seconds while it is RUNNING). */
  async refresh(): Promise<void> {
    try {
      const run = await this.options.api.run(this._run.run_id);
      if (this.isDisposed) {
        return;
      }
      this._run = run;
      this._cache.clear();
      this._version++;
    } catch {
      // keep what the list had
    }
    this.update();
    this._live.schedule();
  }

  /** The other runs of the experiment, to place this run's metrics against their params. */
  private async _loadSiblings(): Promise<void> {
    try {
      const page = await this.options.api.runs({
        experimentIds: [this._run.experiment_id],
        orderBy: ['attributes.start_time DESC'],
        maxResults: SIBLINGS
      });
      const others = page.runs.filter(r => r.run_id !== this._run.run_id);
      this._siblings = others;
    } catch {
      this._siblings = [];
    }
    if (!this.isDisposed) {
      this.update();
    }
  }

  themeChanged(): void {
    this._themeKey++;
    this.update();
  }

  private async _openNotebook(): Promise<void> {
    this._navError = null;
    try {
      await this.options.onOpenNotebook(this._run);
    } catch (err) {
      this._navError = (err as Error).message;
    }
    this.update();
  }

  render(): JSX.Element {
    const run = this._run;
    const target = notebookTarget(run);
    const attrs: Record<string, unknown> = {
      run_id: run.run_id,
      experiment_id: run.experiment_id,
      status: run.status,
      started: formatTimestamp(run.start_time),
      ended: formatTimestamp(run.end_time),
      duration: formatDuration(runDuration(run, Date.now())),
      user: run.user_id,
      artifact_uri: run.artifact_uri
    };
    if (run.parent_run_id) {
      attrs.parent_run_id = run.parent_run_id;
    }
    // CPU, memory, disk, network and GPU of the machine get their own section.
    const { user, system } = splitSystemMetrics(run.metrics);
    const hasSystem = Object.keys(system).length > 0;
    return (
      <div
        className="nt-DetailsInner"
        data-run-id={run.run_id}
        data-status={run.status}
        data-version={this._version}
      >
        <h2 className="nt-DetailsTitle">
          <span className={`nt-status nt-status-${run.status}`} /> {run.run_name || run.run_id}
        </h2>
        {target && (
          <div className="nt-NotebookLink">
            <button
              className="jp-mod-styled jp-mod-accept nt-OpenNotebook"
              onClick={() => void this._openNotebook()}
              title={`${target.path}${target.cellId ? ` · cell ${target.cellId}` : ''}`}
            >
              Open the notebook at this cell
            </button>{' '}
            <span className="nt-muted">
              {target.path}
              {target.executionCount !== null ? ` · In [${target.executionCount}]` : ''}
            </span>
            {this._navError && <div className="nt-Error">{this._navError}</div>}
          </div>
        )}
        <Section title="Run" className="nt-AttrsSection">
          <KeyValueTable record={attrs} className="nt-AttrsTable" empty="" />
        </Section>
        <Section title="Params" className="nt-ParamsSection">
          <KeyValueTable record={run.params} className="nt-ParamsTable" empty="No params." />
        </Section>
        <Section title="Metrics" className="nt-MetricsSection">
          <KeyValueTable record={user} className="nt-MetricsTable" empty="No metrics." />
          <MetricCharts
            runs={[withMetrics(run, user)]}
            colors={[runColor(0)]}
            cache={this._cache}
            themeKey={this._themeKey}
            version={this._version}
            singles="skip"
          />
        </Section>
        {hasSystem && (
          <Section title="System metrics" className="nt-SystemSection">
            <KeyValueTable record={system} className="nt-SystemTable" empty="" />
            <MetricCharts
              runs={[withMetrics(run, system)]}
              colors={[runColor(0)]}
              cache={this._cache}
              themeKey={this._themeKey}
              version={this._version}
              singles="skip"
            />
          </Section>
        )}
        <Section title="Against the other runs of its experiment" className="nt-ScatterSection">
          {this._siblings === null ? (
            <div className="nt-muted">loading…</div>
          ) : (
            <ParamScatter
              runs={[run, ...this._siblings]}
              colors={[runColor(0), 'rgba(127, 127, 127, 0.55)']}
              highlight={run.run_id}
              themeKey={this._themeKey}
            />
          )}
        </Section>
        <Section title="Cell source" className="nt-SourceSection">
          <CellSource api={this.options.api} runId={run.run_id} />
        </Section>
        <Section title="Tags" className="nt-TagsSection">
          <KeyValueTable record={run.tags} className="nt-TagsTable" empty="No tags." />
        </Section>
        <Section title="Artifacts" className="nt-ArtifactsSection">
          <ArtifactBrowser
            api={this.options.api}
            runId={run.run_id}
            onOpenText={this.options.onOpenText}
          />
        </Section>
      </div>
    );
  }

  private _run: IRun;
  private _cache: HistoryCache;
  private _themeKey = 0;
  private _navError: string | null = null;
  private _version = 0;
  private _live: LiveRefresher;
  private _siblings: IRun[] | null = null;
}
