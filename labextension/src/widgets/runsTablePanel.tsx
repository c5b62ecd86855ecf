/**
 * The runs table in the main area: the sidebar's runs (same model: experiment, filter, sort,
 * selection) as a wide tab with every metric and param a column. Compare and details act on
 * the same selection as the sidebar's.
 */

import { ReactWidget } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import { IRun } from '../logic/types';
import { RunsModel } from '../model';
import { RunsView } from './runsView';

export interface IRunsTablePanelOptions {
  model: RunsModel;
  onCompare: () => void;
  onOpenRun: (run: IRun) => void;
}

/** Name under which the model counts this view as showing the runs (it polls while shown). */
const ACTIVE_SOURCE = 'main-area-table';

export class RunsTablePanel extends ReactWidget {
  constructor(private readonly options: IRunsTablePanelOptions) {
    super();
    this.addClass('nt-Sidebar');
    this.addClass('nt-RunsTablePanel');
  }

  get model(): RunsModel {
    return this.options.model;
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.options.model.setActive(ACTIVE_SOURCE, true);
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this.options.model.setActive(ACTIVE_SOURCE, false);
  }

  dispose(): void {
    this.options.model.setActive(ACTIVE_SOURCE, false);
    super.dispose();
  }

  render(): JSX.Element {
    return (
      <RunsView
        model={this.options.model}
        layout="main"
        onCompare={this.options.onCompare}
        onOpen={this.options.onOpenRun}
      />
    );
  }
}
