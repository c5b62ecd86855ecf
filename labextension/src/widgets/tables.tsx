/** Small tables shared by the compare and details views. */

import * as React from 'react';

import { IDiffRow } from '../logic/diff';
import { formatNumber } from '../logic/format';
import { IRun } from '../logic/types';

function show(v: unknown): string {
  if (v === undefined) {
    return '—';
  }
  if (typeof v === 'number' || v === null) {
    return formatNumber(v);
  }
  return typeof v === 'string' ? v : (JSON.stringify(v) ?? '');
}

export function DiffTable<T>(props: {
  runs: IRun[];
  rows: IDiffRow<T>[];
  colors: string[];
  className: string;
  empty: string;
}): JSX.Element {
  if (props.rows.length === 0) {
    return <div className="nt-muted">{props.empty}</div>;
  }
  return (
    <div className="nt-TableScroll">
      <table className={`nt-Table nt-DiffTable ${props.className}`}>
        <thead>
          <tr>
            <th />
            {props.runs.map((r, i) => (
              <th key={r.run_id} title={r.run_id}>
                <span className="nt-Swatch" style={{ background: props.colors[i] }} />
                {r.run_name || r.run_id.slice(0, 8)}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.rows.map(row => (
            <tr
              key={row.key}
              className={row.differs ? 'nt-mod-differs' : ''}
              data-key={row.key}
              data-differs={row.differs}
            >
              <th scope="row">{row.key}</th>
              {row.values.map((v, i) => (
                <td key={i} title={v === undefined ? 'not logged' : String(v)}>
                  {show(v)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function KeyValueTable(props: {
  record: Record<string, unknown>;
  className: string;
  empty: string;
}): JSX.Element {
  const keys = Object.keys(props.record).sort();
  if (keys.length === 0) {
    return <div className="nt-muted">{props.empty}</div>;
  }
  return (
    <table className={`nt-Table nt-KeyValue ${props.className}`}>
      <tbody>
        {keys.map(k => (
          <tr key={k} data-key={k}>
            <th scope="row">{k}</th>
            <td>{show(props.record[k])}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
