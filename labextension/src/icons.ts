/** The nbtrack icon (sidebar tab, toolbar button). */
import { LabIcon } from '@jupyterlab/ui-components';

const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M3 20h18v2H3z"/>
    <path d="M4 17l5-6 4 3 6-8 1.6 1.2-7.2 9.6-4-3-3.9 4.6z"/>
  </g>
</svg>`;

export const nbtrackIcon = new LabIcon({ name: 'nbtrack:runs', svgstr: svg });
