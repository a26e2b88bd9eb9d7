// Charts as inline SVG, drawn from the same figures as the table beside each one (the table is the
// accessible, checkable form; the chart is aria-hidden). No library: bars, lines and a heat class.

const W = 720, H = 240, PAD = { left: 56, right: 12, top: 12, bottom: 40 };
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function scale(max) {
  const top = max > 0 ? niceCeil(max) : 1;
  return { top, y: (v) => PAD.top + (H - PAD.top - PAD.bottom) * (1 - v / top) };
}

function niceCeil(v) {
  const power = 10 ** Math.floor(Math.log10(v));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= v) return step * power;
  return 10 * power;
}

function axes(top, y, format) {
  const ticks = [0, top / 2, top];
  return ticks
    .map((v) => `<line class="grid" x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(v)}" y2="${y(v)}"/>` +
      `<text class="tick" x="${PAD.left - 6}" y="${y(v) + 4}" text-anchor="end">${esc(format(v))}</text>`)
    .join("");
}

function legend(series) {
  return series
    .map((s, i) => `<rect class="${s.cls}" x="${PAD.left + i * 130}" y="${H - 14}" width="10" height="10"/>` +
      `<text class="legend" x="${PAD.left + i * 130 + 14}" y="${H - 5}">${esc(s.label)}</text>`)
    .join("");
}

/**
 * Bars per category: ``rows`` are ``{label, values: {seriesKey: number}}``; ``series`` are
 * ``{key, label, cls}``; stacked or side by side.
 */
export function bars(rows, series, { stacked = false, format = String } = {}) {
  if (!rows.length) return "";
  const totals = rows.map((r) => series.reduce((sum, s) => sum + (r.values[s.key] || 0), 0));
  const max = stacked ? Math.max(...totals) : Math.max(...rows.flatMap((r) => series.map((s) => r.values[s.key] || 0)));
  const { top, y } = scale(max);
  const band = (W - PAD.left - PAD.right) / rows.length;
  const barWidth = Math.max(2, (stacked ? band * 0.7 : (band * 0.8) / series.length));
  let shapes = "";
  rows.forEach((row, i) => {
    let base = 0;
    series.forEach((s, j) => {
      const v = row.values[s.key] || 0;
      const x = PAD.left + i * band + (stacked ? band * 0.15 : band * 0.1 + j * barWidth);
      const y0 = y(stacked ? base : 0), y1 = y(stacked ? base + v : v);
      shapes += `<rect class="${s.cls}" x="${x.toFixed(1)}" y="${y1.toFixed(1)}" width="${barWidth.toFixed(1)}" height="${Math.max(0, y0 - y1).toFixed(1)}"/>`;
      if (stacked) base += v;
    });
    if (rows.length <= 31) {
      shapes += `<text class="tick" x="${(PAD.left + (i + 0.5) * band).toFixed(1)}" y="${H - PAD.bottom + 14}" text-anchor="middle">${esc(row.short ?? row.label)}</text>`;
    }
  });
  return svg(axes(top, y, format) + shapes + legend(series));
}

/** Lines over ordered points: ``points`` are ``{label, values: {seriesKey: number|null}}``. */
export function lines(points, series, { format = String } = {}) {
  if (!points.length) return "";
  const values = points.flatMap((p) => series.map((s) => p.values[s.key])).filter((v) => v != null);
  const { top, y } = scale(Math.max(0, ...values));
  const step = points.length > 1 ? (W - PAD.left - PAD.right) / (points.length - 1) : 0;
  const x = (i) => PAD.left + (points.length > 1 ? i * step : (W - PAD.left - PAD.right) / 2);
  let shapes = "";
  for (const s of series) {
    const coords = points
      .map((p, i) => (p.values[s.key] == null ? null : `${x(i).toFixed(1)},${y(p.values[s.key]).toFixed(1)}`))
      .filter(Boolean);
    shapes += `<polyline class="line ${s.cls}" points="${coords.join(" ")}"/>`;
    if (points.length <= 60) {
      shapes += coords.map((c) => `<circle class="dot ${s.cls}" cx="${c.split(",")[0]}" cy="${c.split(",")[1]}" r="2.5"/>`).join("");
    }
  }
  const every = Math.max(1, Math.ceil(points.length / 12));
  points.forEach((p, i) => {
    if (i % every === 0) {
      shapes += `<text class="tick" x="${x(i).toFixed(1)}" y="${H - PAD.bottom + 14}" text-anchor="middle">${esc(p.short ?? p.label)}</text>`;
    }
  });
  return svg(axes(top, y, format) + shapes + legend(series));
}

/** The heat class (``heat-0`` … ``heat-4``) of ``value`` against the column's ``max``. */
export function heat(value, max) {
  if (!max || !value) return "heat-0";
  return `heat-${Math.min(4, 1 + Math.floor((value / max) * 3.999))}`;
}

function svg(body) {
  return `<svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-hidden="true" xmlns="http://www.w3.org/2000/svg">${body}</svg>`;
}
