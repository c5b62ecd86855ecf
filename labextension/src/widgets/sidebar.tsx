/** The left-sidebar panel: a Runs tab and a Models tab. */

import { ReactWidget } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import { TrackerAPI } from '../api';
import { IRun } from '../logic/types';
import { RunsModel } from '../model';
import { ModelsView } from './modelsView';
import { RunsView } from './runsView';

export interface ISidebarOptions {
  model: RunsModel;
  api: TrackerAPI;
  onCompare: () => void;
  onOpenRun: (run: IRun) => void;
  onOpenRunId: (runId: string) => void;
  /** Open the runs table in the main area. */
  onOpenTable: () => void;
}

type Tab = 'runs' | 'models';

export class TrackerSidebar extends ReactWidget {
  constructor(private readonly options: ISidebarOptions) {
    super();
    this.addClass('nt-Sidebar');
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.options.model.setActive('sidebar', this._tab === 'runs');
    this._visible = true;
    this.update();
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this.options.model.setActive('sidebar', false);
    this._visible = false;
    this.update();
  }

  dispose(): void {
    this.options.model.setActive('sidebar', false);
    super.dispose();
  }

  /** Switch to the Runs tab (a run link shows its run there). */
  showRuns(): void {
    this._setTab('runs');
  }

  private _setTab(tab: Tab): void {
    this._tab = tab;
    this.options.model.setActive('sidebar', this._visible && tab === 'runs');
    this.update();
  }

  render(): JSX.Element {
    const { model, api } = this.options;
    const tab = this._tab;
    return (
      <div className="nt-SidebarInner">
        <div className="nt-Tabs" role="tablist">
          <button
            role="tab"
            aria-selected={tab === 'runs'}
            className={`nt-Tab${tab === 'runs' ? ' nt-mod-active' : ''}`}
            onClick={() => this._setTab('runs')}
          >
            Runs
          </button>
          <button
            role="tab"
            aria-selected={tab === 'models'}
            className={`nt-Tab nt-Tab-models${tab === 'models' ? ' nt-mod-active' : ''}`}
            onClick={() => this._setTab('models')}
          >
            Models
          </button>
        </div>
        {tab === 'runs' ? (
          <RunsView
            model={model}
            onCompare={this.options.onCompare}
            onOpen={this.options.onOpenRun}
            onOpenTable={this.options.onOpenTable}
          />
        ) : (
          <ModelsView
            api={api}
            active={this._visible}
            onOpenRunId={this.options.onOpenRunId}
          />
        )}
      </div>
    );
  }

  private _tab: Tab = 'runs';
  private _visible = false;
}
