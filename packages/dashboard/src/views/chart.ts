// A small line chart as inline SVG (no chart library, no script): one polyline per series over
// the sampled window, the y axis from 0 to the largest value. Colours come from CSS classes,
// so the strict Content-Security-Policy needs no inline style.
import { html, type SafeHtml } from './html.js';

export interface Series {
  label: string;
  /** CSS class of the line (`series-a`, `series-b`). */
  className: string;
  points: { at: number; value: number }[];
}

const WIDTH = 360;
const HEIGHT = 120;
const PAD = 4;

export function lineChart(title: string, unit: string, series: readonly Series[]): SafeHtml {
  const all = series.flatMap((s) => s.points);
  if (all.length < 2) {
    return html`<figure class="chart"><figcaption>${title}</figcaption><p class="muted">collecting samples…</p></figure>`;
  }
  const minAt = Math.min(...all.map((p) => p.at));
  const maxAt = Math.max(...all.map((p) => p.at));
  const maxValue = Math.max(1, ...all.map((p) => p.value));
  const x = (at: number) => PAD + ((at - minAt) / Math.max(1, maxAt - minAt)) * (WIDTH - 2 * PAD);
  const y = (value: number) => HEIGHT - PAD - (value / maxValue) * (HEIGHT - 2 * PAD);
  const lines = series.map((s) => {
    const points = s.points.map((p) => `${x(p.at).toFixed(1)},${y(p.value).toFixed(1)}`).join(' ');
    return html`<polyline class="${s.className}" fill="none" stroke-width="2" points="${points}"></polyline>`;
  });
  const minutes = Math.max(1, Math.round((maxAt - minAt) / 60_000));
  const legend = series.map((s) => {
    const last = s.points.at(-1)?.value ?? 0;
    return html`<span class="legend ${s.className}">${s.label}: ${formatValue(last)}</span>`;
  });
  return html`<figure class="chart">
  <figcaption>${title} <span class="muted">(last ${minutes} min, max ${formatValue(maxValue)} ${unit})</span></figcaption>
  <svg viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img" aria-label="${title}">
    <line class="axis" x1="${PAD}" y1="${HEIGHT - PAD}" x2="${WIDTH - PAD}" y2="${HEIGHT - PAD}"></line>
    ${lines}
  </svg>
  <div>${legend}</div>
</figure>`;
}

function formatValue(value: number): string {
  return value >= 10 || Number.isInteger(value) ? value.toFixed(0) : value.toFixed(1);
}
