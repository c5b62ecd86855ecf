/**
 * Client of the native REST API. Every request goes through ServerConnection.makeRequest so
 * Jupyter's token and XSRF handling apply.
 */

import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { ApiError } from './apiError';
import { encodePath } from './logic/paths';
import { errorMessage, IRunsQuery, runsQuery } from './logic/query';
import {
  IExperiment,
  IFileInfo,
  IMetricHistory,
  IModelVersion,
  IRegisteredModel,
  IRun,
  IRunsPage,
  IServedModel
} from './logic/types';

export { ApiError };

export class TrackerAPI {
  constructor(readonly settings: ServerConnection.ISettings) {}

  url(...parts: string[]): string {
    return URLExt.join(this.settings.baseUrl, 'notebook-tracker', 'api', ...parts);
  }

  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    // 'no-cache' revalidates every GET with the server. JupyterLab's default ('no-store')
    // appends a bare timestamp query parameter, which the native API refuses as unknown.
    const request = { cache: 'no-cache' as RequestCache, ...init };
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(this.url(path), request, this.settings);
    } catch (err) {
      throw new ApiError(`Cannot reach the Jupyter server: ${String(err)}`, 0);
    }
    if (!response.ok) {
      const text = await response.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      const code =
        body && typeof body === 'object'
          ? ((body as Record<string, unknown>).error_code as string) ?? null
          : null;
      throw new ApiError(
        errorMessage(body, `${response.status} ${response.statusText}`),
        response.status,
        code
      );
    }
    return response;
  }

  async json<T>(path: string, init: RequestInit = {}): Promise<T> {
    const response = await this.fetch(path, init);
    const text = await response.text();
    return (text ? JSON.parse(text) : {}) as T;
  }

  async experiments(): Promise<IExperiment[]> {
    const r = await this.json<{ experiments: IExperiment[] }>('experiments');
    return r.experiments;
  }

  runs(q: IRunsQuery, init: RequestInit = {}): Promise<IRunsPage> {
    return this.json<IRunsPage>(`runs${runsQuery(q)}`, init);
  }

  async run(runId: string): Promise<IRun> {
    const r = await this.json<{ run: IRun }>(`runs/${encodeURIComponent(runId)}`);
    return r.run;
  }

  history(
    runId: string,
    key: string,
    x: 'step' | 'timestamp',
    maxPoints: number,
    init: RequestInit = {}
  ): Promise<IMetricHistory> {
    const q = `?max_points=${maxPoints}&x=${x}`;
    return this.json<IMetricHistory>(
      `runs/${encodeURIComponent(runId)}/metrics/${encodeURIComponent(key)}/history${q}`,
      init
    );
  }

  async artifacts(runId: string, path = ''): Promise<IFileInfo[]> {
    const q = path ? `?path=${encodeURIComponent(path)}` : '';
    const r = await this.json<{ files: IFileInfo[] }>(
      `runs/${encodeURIComponent(runId)}/artifacts${q}`
    );
    return r.files;
  }

  /** URL of an artifact's bytes (opened in a browser tab, which carries the login cookie). */
  artifactUrl(runId: string, path: string, download = false): string {
    const u = this.url('runs', encodeURIComponent(runId), 'artifacts', 'raw', encodePath(path));
    return download ? `${u}?download=1` : u;
  }

  async artifactBlob(runId: string, path: string): Promise<Blob> {
    const r = await this.fetch(
      `runs/${encodeURIComponent(runId)}/artifacts/raw/${encodePath(path)}`
    );
    return r.blob();
  }

  async artifactText(runId: string, path: string): Promise<string> {
    const r = await this.fetch(
      `runs/${encodeURIComponent(runId)}/artifacts/raw/${encodePath(path)}`
    );
    return r.text();
  }

  async models(): Promise<IRegisteredModel[]> {
    const r = await this.json<{ registered_models?: IRegisteredModel[] }>('models');
    return r.registered_models ?? [];
  }

  async modelVersions(name: string): Promise<IModelVersion[]> {
    const r = await this.json<{ model_versions?: IModelVersion[] }>(
      `models/${encodeURIComponent(name)}/versions`
    );
    return r.model_versions ?? [];
  }

  /** Absolute URL of a path relative to the extension's root (e.g. a served model's URL). */
  extensionUrl(relative: string): string {
    return URLExt.join(this.settings.baseUrl, 'notebook-tracker', relative);
  }

  async served(): Promise<IServedModel[]> {
    const r = await this.json<{ served?: IServedModel[] }>('serving');
    return r.served ?? [];
  }

  async startServing(name: string, ref: { version?: string; alias?: string }): Promise<void> {
    await this.json(`serving/${encodeURIComponent(name)}/start`, {
      method: 'POST',
      body: JSON.stringify(ref)
    });
  }

  async stopServing(name: string, version?: number | string): Promise<void> {
    await this.json(`serving/${encodeURIComponent(name)}/stop`, {
      method: 'POST',
      body: JSON.stringify(version === undefined ? {} : { version: String(version) })
    });
  }
}
