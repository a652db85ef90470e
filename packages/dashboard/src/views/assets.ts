// The stylesheet and the script, served by the dashboard (the CSP allows no inline code). The
// page works without the script; it only adds a confirmation before a purge, "select all", and
// an opt-in auto-refresh of the overview.

export const STYLESHEET = `
:root { font-family: system-ui, sans-serif; color: #1d2330; background: #f6f7f9; }
body { margin: 0; }
header { display: flex; gap: 1.5rem; align-items: center; padding: .6rem 1.2rem; background: #1d2330; color: #eef; }
header a { color: #cfe0ff; text-decoration: none; margin-right: .8rem; }
header .brand { font-weight: 700; color: #fff; }
header .target, header .mode { font-size: .8rem; opacity: .8; }
main { padding: 1rem 1.2rem; max-width: 1200px; }
h1 { font-size: 1.4rem; margin: .2rem 0 1rem; }
h2 { font-size: 1.1rem; margin: 1.2rem 0 .5rem; }
.tiles { display: flex; flex-wrap: wrap; gap: .8rem; }
.tile { background: #fff; border: 1px solid #dde1e8; border-radius: 6px; padding: .6rem .9rem; min-width: 7.5rem; }
.tile .value { font-size: 1.6rem; font-weight: 600; }
.tile .label { font-size: .85rem; }
.muted { color: #6b7385; font-size: .85rem; }
.error { color: #b3261e; }
.notice { background: #e6f4ea; border: 1px solid #a8d5b5; padding: .5rem .8rem; border-radius: 4px; }
.charts { display: flex; flex-wrap: wrap; gap: 1rem; margin-top: 1rem; }
.chart { background: #fff; border: 1px solid #dde1e8; border-radius: 6px; padding: .6rem; margin: 0; }
.chart figcaption { font-weight: 600; font-size: .9rem; margin-bottom: .3rem; }
.chart .axis { stroke: #c4c9d4; stroke-width: 1; }
.series-a { stroke: #2f6fdf; color: #2f6fdf; }
.series-b { stroke: #e0822d; color: #e0822d; }
.legend { font-size: .8rem; margin-right: 1rem; }
table { border-collapse: collapse; background: #fff; width: 100%; font-size: .9rem; }
th, td { border: 1px solid #dde1e8; padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #eef1f5; }
.mono, pre { font-family: ui-monospace, monospace; font-size: .85rem; }
pre { background: #fff; border: 1px solid #dde1e8; padding: .6rem; overflow: auto; max-height: 28rem; }
.clip { max-width: 28rem; overflow-wrap: anywhere; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
.facts dt { font-weight: 600; }
.facts dd { margin: 0; overflow-wrap: anywhere; }
.actions { margin-top: .8rem; display: flex; gap: .6rem; align-items: center; }
button { padding: .35rem .8rem; border-radius: 4px; border: 1px solid #2f6fdf; background: #2f6fdf; color: #fff; cursor: pointer; }
button.danger { background: #b3261e; border-color: #b3261e; }
.pager a { margin-right: 1rem; }
`;

export const SCRIPT = `
'use strict';
document.addEventListener('click', function (event) {
  var target = event.target;
  if (!(target instanceof Element)) return;
  var button = target.closest('[data-confirm]');
  if (button && !window.confirm(button.getAttribute('data-confirm'))) event.preventDefault();
});
document.addEventListener('change', function (event) {
  var box = event.target;
  if (!(box instanceof HTMLInputElement) || !box.hasAttribute('data-select-all')) return;
  var form = box.closest('form');
  if (form) form.querySelectorAll('input[name="id"]').forEach(function (b) { b.checked = box.checked; });
});
document.addEventListener('DOMContentLoaded', function () {
  var section = document.querySelector('[data-refresh]');
  if (!section) return;
  var label = document.createElement('label');
  label.className = 'muted';
  var box = document.createElement('input');
  box.type = 'checkbox';
  box.checked = window.localStorage.getItem('txbox-refresh') === 'on';
  label.append(box, ' auto-refresh every 5 s');
  section.append(label);
  var timer;
  function arm() {
    clearInterval(timer);
    if (box.checked) timer = setInterval(function () { if (!document.hidden) window.location.reload(); }, 5000);
  }
  box.addEventListener('change', function () {
    window.localStorage.setItem('txbox-refresh', box.checked ? 'on' : 'off');
    arm();
  });
  arm();
});
`;
