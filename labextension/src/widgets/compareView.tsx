/** The compare tab: params and metrics side by side, metric curves, parallel coordinates, artifacts. */

import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { TrackerAPI } from '../api';
import { runColor } from '../logic/colors';
import { metricRows, onlyDifferences, paramRows } from '../logic/diff';
import { formatDuration, formatTimestamp } from '../logic/format';
import { runDuration } from '../logic/runs';
import { IRun } from '../logic/types';
import { ArtifactBrowser } from './artifacts';
import { LiveRefresher } from './live';
import { HistoryCache, MetricCharts } from './metricCharts';
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

export class CompareView extends ReactWidget {
  constructor(private readonly options: ICompareOptions) {
    super();
    this.addClass('nt-CompareView');
    this._runs = options.runs;
    this._cache = new HistoryCache(options.api);
    this._live = new LiveRefresher(
      () => this.refresh(),
      () => this._runs.some(r => r.status === 'RUNNING'),
      () => this.isVisible
    );
    void this.refresh();
  }

  get runs(): IRun[] {
    return this._runs;
  }

  dispose(): void {
    this._live.dispose();
    super.dispose();
  }

  /** Re-read the runs (their latest metrics) and the histories. */
  async refresh(): Promise<void> {
    const fresh = await Promise.all(
      this._runs.map(r => this.options.api.run(r.run_id).catch(() => r))
    );
    if (this.isDisposed) {
      return;
    }
    this._runs = fresh;
    this._cache.clear();
    this._version++;
    this.update();
    this._live.schedule();
  }

  /** Charts read theme colours when built: rebuild them after a theme switch. */
  themeChanged(): void {
    this._themeKey++;
    this.update();
  }

  render(): JSX.Element {
    const runs = this._runs;
    const colors = runs.map((_, i) => runColor(i));
    const params = onlyDifferences(paramRows(runs), this._diffOnly);
    const metrics = onlyDifferences(metricRows(runs), this._diffOnly);
    const now = Date.now();
    return (
      <div className="nt-CompareInner" data-version={this._version}>
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
                checked={this._diffOnly}
                onChange={e => {
                  this._diffOnly = e.target.checked;
                  this.update();
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
            empty={this._diffOnly ? 'No param differs.' : 'No params logged.'}
          />
        </Section>
        <Section title="Metrics (latest)" className="nt-MetricsSection">
          <DiffTable
            runs={runs}
            rows={metrics}
            colors={colors}
            className="nt-MetricsTable"
            empty={this._diffOnly ? 'No metric differs.' : 'No metrics logged.'}
          />
        </Section>
        <Section title="Metric charts" className="nt-ChartsSection">
          <MetricCharts
            runs={runs}
            colors={colors}
            cache={this._cache}
            themeKey={this._themeKey}
            version={this._version}
          />
        </Section>
        <Section title="Metric against a param" className="nt-ScatterSection">
          <ParamScatter runs={runs} colors={colors} themeKey={this._themeKey} />
        </Section>
        <Section title="Params against a metric" className="nt-ParallelSection">
          <ParallelView runs={runs} colors={colors} themeKey={this._themeKey} />
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

  private _runs: IRun[];
  private _cache: HistoryCache;
  private _diffOnly = false;
  private _version = 0;
  private _live: LiveRefresher;
  private _themeKey = 0;
}
