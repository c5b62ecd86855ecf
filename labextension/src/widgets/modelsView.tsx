/**
 * Registered models with their versions and aliases, which versions are being served, and
 * start/stop. A server without the model endpoints gets an empty state, not an error.
 */

import * as React from 'react';

import { ApiError, TrackerAPI } from '../api';
import { isLive, versionRows } from '../logic/models';
import { IModelVersion, IRegisteredModel, IServedModel } from '../logic/types';
import { VersionDetails } from './versionDetails';

interface IState {
  models: IRegisteredModel[];
  versions: Record<string, IModelVersion[] | null>;
  served: IServedModel[];
  unavailable: boolean;
  error: string | null;
  loading: boolean;
}

const POLL_MS = 5000;

export interface IModelsViewProps {
  api: TrackerAPI;
  active: boolean;
  onOpenRunId: (runId: string) => void;
}

async function loadAll(api: TrackerAPI): Promise<Omit<IState, 'error' | 'loading'>> {
  const models = await api.models();
  const [served, versions] = await Promise.all([
    api.served().catch(err => {
      if (err instanceof ApiError && err.status === 404) {
        return [] as IServedModel[];
      }
      throw err;
    }),
    Promise.all(models.map(m => api.modelVersions(m.name).catch(() => null)))
  ]);
  return {
    models,
    served,
    versions: Object.fromEntries(models.map((m, i) => [m.name, versions[i]])),
    unavailable: false
  };
}

export function ModelsView(props: IModelsViewProps): JSX.Element {
  const { api } = props;
  const [state, setState] = React.useState<IState>({
    models: [],
    versions: {},
    served: [],
    unavailable: false,
    error: null,
    loading: true
  });
  const [busy, setBusy] = React.useState<string | null>(null);
  const [open, setOpen] = React.useState<string | null>(null);

  const load = React.useCallback(async () => {
    try {
      const data = await loadAll(api);
      setState({ ...data, error: null, loading: false });
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        setState(s => ({ ...s, unavailable: true, error: null, loading: false }));
      } else {
        setState(s => ({ ...s, error: (err as Error).message, loading: false }));
      }
    }
  }, [api]);

  React.useEffect(() => {
    if (!props.active) {
      return;
    }
    void load();
    const timer = window.setInterval(() => void load(), POLL_MS);
    return () => window.clearInterval(timer);
  }, [props.active, load]);

  const act = async (key: string, fn: () => Promise<void>): Promise<void> => {
    setBusy(key);
    try {
      await fn();
      await load();
    } catch (err) {
      setState(s => ({ ...s, error: (err as Error).message }));
    } finally {
      setBusy(null);
    }
  };

  if (state.loading) {
    return <div className="nt-Empty">Loading models…</div>;
  }
  if (state.unavailable) {
    return (
      <div className="nt-Empty nt-ModelsUnavailable">
        This server has no model registry endpoints.
      </div>
    );
  }
  return (
    <div className="nt-ModelsView">
      {state.error && (
        <div className="nt-Error" role="alert">
          {state.error}
        </div>
      )}
      {state.models.length === 0 && (
        <div className="nt-Empty nt-NoModels">
          No registered models yet: register one with
          notebook_tracker.models.register_model(&quot;runs:/&lt;run_id&gt;/model&quot;, &quot;name&quot;).
        </div>
      )}
      {state.models.map(m => {
        const rows = versionRows(m, state.versions[m.name] ?? null, state.served);
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
                  const info = (state.versions[m.name] ?? m.latest_versions ?? []).find(
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
                              void act(key, () => api.stopServing(m.name, r.version))
                            }
                          >
                            Stop
                          </button>
                        ) : (
                          <button
                            className="jp-mod-styled jp-mod-accept nt-ServeButton"
                            disabled={busy === key}
                            onClick={() =>
                              void act(key, () =>
                                api.startServing(m.name, { version: r.version })
                              )
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
