import { LabIcon } from '@jupyterlab/ui-components';

/** A line chart over a grid: "runs and their curves". */
const svgstr = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M3 3h2v16h16v2H3z"/>
    <path d="M7 15.6l4.2-5.2 3.3 2.9L19.6 6 21 7.4l-6.3 8.9-3.2-2.8-3 3.6z"/>
  </g>
</svg>`;

export const trackerIcon = new LabIcon({ name: 'notebook-tracker:runs', svgstr });
