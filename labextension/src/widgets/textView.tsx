/** A text artifact shown read-only in a main-area tab. */

import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { TrackerAPI } from '../api';

export class ArtifactText extends ReactWidget {
  constructor(
    api: TrackerAPI,
    readonly runId: string,
    readonly path: string
  ) {
    super();
    this.addClass('nt-ArtifactText');
    api.artifactText(runId, path).then(
      text => {
        this._text = text;
        this.update();
      },
      err => {
        this._error = (err as Error).message;
        this.update();
      }
    );
  }

  render(): JSX.Element {
    if (this._error) {
      return <div className="nt-Error">{this._error}</div>;
    }
    return <pre className="nt-CellSource">{this._text ?? 'loading…'}</pre>;
  }

  private _text: string | null = null;
  private _error: string | null = null;
}
