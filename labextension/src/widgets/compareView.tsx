/** The compare tab: params and metrics side by side, metric curves, parallel coordinates, artifacts. */

import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import { TrackerAPI } from '../api';
import { CompareModel } from '../liveRuns';
import { runColor } from '../logic/colors';
import { metricRows, onlyDifferences, paramRows } from '../logic/diff';
import { formatDuration, formatTimestamp } from '../logic/format';
import { runDuration } from '../logic/runs';
import { IRun } from '../logic/types';
import { ArtifactBrowser } from './artifacts';
import { MetricCharts } from './metricCharts';
import { ParamScatter } from './scatterChart';
import { ParallelView } from './parallelView';
import { DiffTable } from './tables';

export interface ICompareOptions {
  api: TrackerAPI;
  runs: IRun[];
  onOpenRun: (run: IRun) => void;
  onOpenText: (runId: string, path: string) => void;
}

function Section(props: {
  title: string;
  className: string;
  children: React.ReactNode;
  extra?: React.ReactNode;
}): JSX.Element {
  const [open, setOpen] = React.useState(true);
  return (
    <section className={`nt-Section ${props.className}`}>
      <h3 className="nt-Section-title">
        <button className="nt-LinkButton" onClick={() => setOpen(!open)}>
          {open ? '▾' : '▸'} {props.title}
        </button>
        {props.extra}
      </h3>
      {open && props.children}
    </section>
  );
}

export { Section };

/** The compare tab: a view of a CompareModel, which re-reads the runs while any is running. */
export class CompareView extends ReactWidget {
  constructor(private readonly options: ICompareOptions) {
    super();
    this.addClass('nt-CompareView');
    this.model = new CompareModel(options.api, options.runs);
    void this.model.refresh();
  }

  readonly model: CompareModel;

  get runs(): IRun[] {
    return this.model.runs;
  }

  dispose(): void {
    this.model.dispose();
    super.dispose();
  }

  /** Re-read the runs (their latest metrics) and the histories. */
  refresh(): Promise<void> {
    return this.model.refresh();
  }

  /** Charts read theme colours when built: rebuild them after a theme switch. */
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
    const runs = model.runs;
    const colors = runs.map((_, i) => runColor(i));
    const params = onlyDifferences(paramRows(runs), model.diffOnly);
    const metrics = onlyDifferences(metricRows(runs), model.diffOnly);
    const now = Date.now();
    return (
      <div className="nt-CompareInner" data-version={model.version}>
        <div className="nt-RunChips">
          {runs.map((r, i) => (
            <button
              key={r.run_id}
              className="nt-RunChip"
              title={`${r.run_id}: open details`}
              onClick={() => this.options.onOpenRun(r)}
            >
              <span className="nt-Swatch" style={{ background: colors[i] }} />
              <span className={`nt-status nt-status-${r.status}`} /> {r.run_name || r.run_id}
              <span className="nt-muted">
                {' '}
                {formatTimestamp(r.start_time)} · {formatDuration(runDuration(r, now))}
              </span>
            </button>
          ))}
        </div>
        <Section
          title="Params"
          className="nt-ParamsSection"
          extra={
            <label className="nt-DiffToggle">
              <input
                type="checkbox"
                checked={model.diffOnly}
                onChange={e => {
                  model.diffOnly = e.target.checked;
                }}
              />{' '}
              differences only
            </label>
          }
        >
          <DiffTable
            runs={runs}
            rows={params}
            colors={colors}
            className="nt-ParamsTable"
            empty={model.diffOnly ? 'No param differs.' : 'No params logged.'}
          />
        </Section>
        <Section title="Metrics (latest)" className="nt-MetricsSection">
          <DiffTable
            runs={runs}
            rows={metrics}
            colors={colors}
            className="nt-MetricsTable"
            empty={model.diffOnly ? 'No metric differs.' : 'No metrics logged.'}
          />
        </Section>
        <Section title="Metric charts" className="nt-ChartsSection">
          <MetricCharts
            runs={runs}
            colors={colors}
            cache={model.cache}
            themeKey={model.themeKey}
            version={model.version}
          />
        </Section>
        <Section title="Metric against a param" className="nt-ScatterSection">
          <ParamScatter runs={runs} colors={colors} themeKey={model.themeKey} />
        </Section>
        <Section title="Params against a metric" className="nt-ParallelSection">
          <ParallelView runs={runs} colors={colors} themeKey={model.themeKey} />
        </Section>
        <Section title="Artifacts" className="nt-ArtifactsSection">
          <div className="nt-ArtifactColumns">
            {runs.map((r, i) => (
              <div key={r.run_id} className="nt-ArtifactColumn" data-run-id={r.run_id}>
                <div className="nt-ArtifactColumn-title">
                  <span className="nt-Swatch" style={{ background: colors[i] }} />
                  {r.run_name || r.run_id.slice(0, 8)}
                </div>
                <ArtifactBrowser
                  api={this.options.api}
                  runId={r.run_id}
                  onOpenText={this.options.onOpenText}
                />
              </div>
            ))}
          </div>
        </Section>
      </div>
    );
  }
}
