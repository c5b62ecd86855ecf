/**
 * Registered models with their versions and aliases, which versions are being served, and
 * start/stop. A server without the model endpoints gets an empty state, not an error.
 */

import { UseSignal } from '@jupyterlab/ui-components';
import * as React from 'react';

import { TrackerAPI } from '../api';
import { isLive, versionRows } from '../logic/models';
import { IServedModel } from '../logic/types';
import { RegistryModel } from '../registryModel';
import { VersionDetails } from './versionDetails';

export interface IModelsViewProps {
  api: TrackerAPI;
  active: boolean;
  onOpenRunId: (runId: string) => void;
}

/** The Models tab: its RegistryModel lives as long as the tab is shown, polling while active. */
export function ModelsView(props: IModelsViewProps): JSX.Element {
  const [model] = React.useState(() => new RegistryModel(props.api));
  React.useEffect(() => {
    model.active = props.active;
  }, [model, props.active]);
  React.useEffect(() => () => model.dispose(), [model]);
  return (
    <UseSignal signal={model.changed}>
      {() => <ModelsList model={model} api={props.api} onOpenRunId={props.onOpenRunId} />}
    </UseSignal>
  );
}

function ModelsList(props: {
  model: RegistryModel;
  api: TrackerAPI;
  onOpenRunId: (runId: string) => void;
}): JSX.Element {
  const { model, api } = props;
  const busy = model.busy;
  // Which version's details are unfolded: presentation only, so it stays in the component.
  const [open, setOpen] = React.useState<string | null>(null);

  if (model.loading) {
    return <div className="nt-Empty">Loading models…</div>;
  }
  if (model.unavailable) {
    return (
      <div className="nt-Empty nt-ModelsUnavailable">
        This server has no model registry endpoints.
      </div>
    );
  }
  return (
    <div className="nt-ModelsView">
      {model.error && (
        <div className="nt-Error" role="alert">
          {model.error}
        </div>
      )}
      {model.models.length === 0 && (
        <div className="nt-Empty nt-NoModels">
          No registered models yet: register one with
          notebook_tracker.models.register_model(&quot;runs:/&lt;run_id&gt;/model&quot;, &quot;name&quot;).
        </div>
      )}
      {model.models.map(m => {
        const rows = versionRows(m, model.versions[m.name] ?? null, model.served);
        return (
          <div key={m.name} className="nt-Model" data-model={m.name}>
            <div className="nt-Model-head">
              <span className="nt-Model-name">{m.name}</span>
              {rows.some(r => r.served && isLive(r.served.state)) && (
                <span className="nt-Badge nt-Badge-ready">serving</span>
              )}
            </div>
            {m.description && <div className="nt-muted">{m.description}</div>}
            <table className="nt-Table nt-VersionsTable">
              <tbody>
                {rows.map(r => {
                  const key = `${m.name}/${r.version}`;
                  const live = r.served !== null && isLive(r.served.state);
                  const info = (model.versions[m.name] ?? m.latest_versions ?? []).find(
                    v => String(v.version) === r.version
                  );
                  const url = api.extensionUrl(
                    r.served ? r.served.url : `models/${m.name}/${r.version}/invocations`
                  );
                  return (
                    <React.Fragment key={r.version}>
                    <tr data-version={r.version}>
                      <th scope="row">
                        <button
                          className="nt-LinkButton nt-VersionToggle"
                          aria-expanded={open === key}
                          title="Show when it was made, its run, signature and how to call it"
                          onClick={() => setOpen(open === key ? null : key)}
                        >
                          {open === key ? '▾' : '▸'} v{r.version}
                        </button>
                      </th>
                      <td>
                        {r.aliases.map(a => (
                          <span key={a} className="nt-Badge nt-Alias">
                            @{a}
                          </span>
                        ))}
                        {r.stage && <span className="nt-muted">{r.stage}</span>}
                        {r.runId && (
                          <button
                            className="nt-LinkButton nt-RunLink"
                            title={`run ${r.runId}`}
                            onClick={() => props.onOpenRunId(r.runId as string)}
                          >
                            run
                          </button>
                        )}
                      </td>
                      <td className="nt-Serving">
                        {r.served && (
                          <span
                            className={`nt-Badge nt-Badge-${r.served.state}`}
                            title={api.extensionUrl(r.served.url)}
                          >
                            {r.served.state}
                          </span>
                        )}
                        {live ? (
                          <button
                            className="jp-mod-styled jp-mod-warn nt-StopButton"
                            disabled={busy === key}
                            onClick={() =>
                              void model.stop(m.name, r.version)
                            }
                          >
                            Stop
                          </button>
                        ) : (
                          <button
                            className="jp-mod-styled jp-mod-accept nt-ServeButton"
                            disabled={busy === key}
                            onClick={() =>
                              void model.serve(m.name, r.version)
                            }
                          >
                            {busy === key ? 'Starting…' : 'Serve'}
                          </button>
                        )}
                      </td>
                    </tr>
                    {open === key && info && (
                      <tr className="nt-VersionDetailsRow" data-version={r.version}>
                        <td colSpan={3}>
                          <VersionDetails
                            api={api}
                            version={info}
                            url={url}
                            onOpenRunId={props.onOpenRunId}
                          />
                        </td>
                      </tr>
                    )}
                    </React.Fragment>
                  );
                })}
              </tbody>
            </table>
            {rows
              .filter(r => r.served && isLive(r.served.state))
              .map(r => (
                <div key={r.version} className="nt-Model-url">
                  POST <code>{api.extensionUrl((r.served as IServedModel).url)}</code>
                </div>
              ))}
          </div>
        );
      })}
    </div>
  );
}
