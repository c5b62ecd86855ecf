/** One run: its attributes, params, metrics with curves, tags, artifacts and cell source. */

import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import { ApiError, TrackerAPI } from '../api';
import { RunDetailsModel } from '../liveRuns';
import { runColor } from '../logic/colors';
import { formatDuration, formatTimestamp } from '../logic/format';
import { CELL_SOURCE, notebookTarget } from '../logic/paths';
import { runDuration } from '../logic/runs';
import { splitSystemMetrics, withMetrics } from '../logic/system';
import { IRun } from '../logic/types';
import { ArtifactBrowser } from './artifacts';
import { Section } from './compareView';
import { MetricCharts } from './metricCharts';
import { ParamScatter } from './scatterChart';
import { KeyValueTable } from './tables';

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

/** The details tab of one run: a view of a RunDetailsModel, which re-reads a running run. */
export class RunDetails extends ReactWidget {
  constructor(private readonly options: IDetailsOptions) {
    super();
    this.addClass('nt-RunDetails');
    this.model = new RunDetailsModel(options.api, options.run);
    void this.model.refresh();
    void this.model.loadSiblings();
  }

  readonly model: RunDetailsModel;

  get run(): IRun {
    return this.model.run;
  }

  dispose(): void {
    this.model.dispose();
    super.dispose();
  }

  /** Re-read the run and its histories (every few seconds while it is RUNNING). */
  refresh(): Promise<void> {
    return this.model.refresh();
  }

  themeChanged(): void {
    this.model.themeChanged();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this.model.visible = this.isVisible;
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.model.visible = true;
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this.model.visible = false;
  }

  protected onBeforeDetach(msg: Message): void {
    this.model.visible = false;
    super.onBeforeDetach(msg);
  }

  render(): JSX.Element {
    return <UseSignal signal={this.model.changed}>{() => this._render()}</UseSignal>;
  }

  private _render(): JSX.Element {
    const { model } = this;
    const run = model.run;
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
        data-version={model.version}
      >
        <h2 className="nt-DetailsTitle">
          <span className={`nt-status nt-status-${run.status}`} /> {run.run_name || run.run_id}
        </h2>
        {target && (
          <div className="nt-NotebookLink">
            <button
              className="jp-mod-styled jp-mod-accept nt-OpenNotebook"
              onClick={() => void model.openNotebook(this.options.onOpenNotebook)}
              title={`${target.path}${target.cellId ? ` · cell ${target.cellId}` : ''}`}
            >
              Open the notebook at this cell
            </button>{' '}
            <span className="nt-muted">
              {target.path}
              {target.executionCount !== null ? ` · In [${target.executionCount}]` : ''}
            </span>
            {model.navError && <div className="nt-Error">{model.navError}</div>}
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
            cache={model.cache}
            themeKey={model.themeKey}
            version={model.version}
            singles="skip"
          />
        </Section>
        {hasSystem && (
          <Section title="System metrics" className="nt-SystemSection">
            <KeyValueTable record={system} className="nt-SystemTable" empty="" />
            <MetricCharts
              runs={[withMetrics(run, system)]}
              colors={[runColor(0)]}
              cache={model.cache}
              themeKey={model.themeKey}
              version={model.version}
              singles="skip"
            />
          </Section>
        )}
        <Section title="Against the other runs of its experiment" className="nt-ScatterSection">
          {model.siblings === null ? (
            <div className="nt-muted">loading…</div>
          ) : (
            <ParamScatter
              runs={[run, ...model.siblings]}
              colors={[runColor(0), 'rgba(127, 127, 127, 0.55)']}
              highlight={run.run_id}
              themeKey={model.themeKey}
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
}
