// The web desk: pages over the HTTP API, signed in with an API key kept in sessionStorage only.
//
// Every figure on a page comes from one of the API's reads with the same key, so a page shows what
// the API answers and nothing the key may not read. Which pages a role sees is the server's
// (api/web.py PAGES, in #desk-config); a page the role may not see says so and reads nothing.
// A page shows the log position and lag of what it reflects, and reads again when the log moves
// (/v1/events/stream for the roles that read the log, /v1/events/heads for the others).

import { t, lang, setLang } from "./i18n.js";
import { bars, lines, heat } from "./charts.js";

const CONFIG = JSON.parse(document.getElementById("desk-config").textContent);
const KEY = "tiexin.key";
const state = { key: sessionStorage.getItem(KEY), me: null, labels: null, reads: [], seq: 0, shown: 0, live: null };

// Formatting ------------------------------------------------------------------------------------

export const esc = (value) => String(value ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Integer fen as yuan with two decimals and thousands separators, computed without floats. */
export function yuan(fen) {
  if (fen == null) return "";
  const sign = fen < 0 ? "-" : "";
  const abs = Math.abs(fen);
  return `${sign}${Math.floor(abs / 100).toLocaleString("en-US")}.${String(abs % 100).padStart(2, "0")}`;
}

const parts = (date, options) =>
  Object.fromEntries(
    new Intl.DateTimeFormat("en-CA", { timeZone: CONFIG.timezone, hourCycle: "h23", ...options })
      .formatToParts(date)
      .map((p) => [p.type, p.value]),
  );

/** A date-time in the county's time, as YYYY-MM-DD HH:MM. */
function when(iso) {
  if (!iso) return "";
  const p = parts(new Date(iso), { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
}

function countyToday() {
  const p = parts(new Date(), { year: "numeric", month: "2-digit", day: "2-digit" });
  return `${p.year}-${p.month}-${p.day}`;
}

const thisMonth = () => countyToday().slice(0, 7);

function monthBefore(month) {
  const [y, m] = month.split("-").map(Number);
  return m === 1 ? `${y - 1}-12` : `${y}-${String(m - 1).padStart(2, "0")}`;
}

const label = (family, code) => state.labels?.[family]?.[code] ?? code;
const num = (value) => `<td class="num">${esc(value ?? "")}</td>`;
const short = (id) => String(id).slice(0, 8);

function table(id, head, rows, { foot = "" } = {}) {
  if (!rows.length) return `<p class="empty" data-testid="${id}-empty">${esc(t("empty"))}</p>`;
  return `<table data-testid="${id}"><thead><tr>${head.map((h) => `<th scope="col"${h.num ? ' class="num"' : ""}>${esc(h.text ?? h)}</th>`).join("")}</tr></thead>` +
    `<tbody>${rows.join("")}</tbody>${foot}</table>`;
}

const section = (title, body, id = "") => `<section${id ? ` data-testid="section-${id}"` : ""}><h2>${esc(title)}</h2>${body}</section>`;
const link = (route, text) => `<a href="#/${route}">${esc(text)}</a>`;

// The API ---------------------------------------------------------------------------------------

class Problem extends Error {
  constructor(status, body) {
    super(body.detail || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

async function call(path, { method = "GET", body } = {}) {
  const headers = { Authorization: `Bearer ${state.key}`, "Accept-Language": lang() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!response.ok) {
    let problem = {};
    try {
      problem = await response.json();
    } catch {
      problem = { detail: response.statusText };
    }
    throw new Problem(response.status, problem);
  }
  return response;
}

/** A read's JSON; a read-model answer's position and lag are noted for the page's freshness line. */
async function api(path, options) {
  const answer = await (await call(path, options)).json();
  if (typeof answer.position === "number" && typeof answer.lag === "number") {
    state.reads.push({ path, position: answer.position, lag: answer.lag });
  }
  return answer;
}

/** Every item of a paged list (at most ``limit`` items), following ``next_cursor``. */
async function all(path, limit = 5000) {
  const items = [];
  let cursor = null;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const page = await api(`${path}${sep}limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < limit);
  return items;
}

async function download(path, filename) {
  const blob = await (await call(path)).blob();
  const url = URL.createObjectURL(blob);
  const a = Object.assign(document.createElement("a"), { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// Pages -----------------------------------------------------------------------------------------

const PAGES = {};

PAGES.home = async () => {
  const allowed = Object.keys(CONFIG.pages).filter((id) => CONFIG.pages[id].nav && mayShow(id));
  if (state.me.role === "volunteer") {
    location.hash = `#/volunteer/${state.me.volunteer_id}`;
    return "";
  }
  if (!allowed.length) return `<p data-testid="no-pages">${esc(t("no_pages"))}</p>`;
  return section(t("your_pages"), `<ul class="cards">${allowed.map((id) => `<li>${link(id, t("pages")[id])}</li>`).join("")}</ul>`);
};

PAGES.county = async ({ month = thisMonth() }) => {
  const [townships, contacts] = await Promise.all([
    api("/v1/roster/townships"),
    api(`/v1/reports/contacts?month=${month}`),
  ]);
  const kinds = Object.keys(state.labels.VisitKind);
  const byTownship = Object.fromEntries(contacts.rows.map((c) => [c.township, c]));
  const rows = townships.items.map((r) => ({ ...r, contacts: r.county === contacts.county ? byTownship[r.township] : undefined }));
  const columns = ["elders", "paired", "unpaired", "overdue"];
  const kindOf = (r, kind) => r.contacts?.kinds.find((k) => k.kind === kind)?.contacts ?? 0;
  const max = Object.fromEntries(columns.map((c) => [c, Math.max(0, ...rows.map((r) => r[c]))]));
  const kindMax = Object.fromEntries(kinds.map((k) => [k, Math.max(0, ...rows.map((r) => kindOf(r, k)))]));
  const cell = (value, top) => `<td class="num ${heat(value, top)}">${esc(value)}</td>`;
  const body = rows.map((r) =>
    `<tr data-township="${esc(r.township)}"><th scope="row">${link(`township/${encodeURIComponent(r.township)}`, r.township)}</th>` +
    columns.map((c) => cell(r[c], max[c])).join("") +
    kinds.map((k) => cell(kindOf(r, k), kindMax[k])).join("") +
    cell(r.contacts?.contacts ?? 0, 0) + "</tr>");
  const sum = (f) => rows.reduce((s, r) => s + f(r), 0);
  const foot = `<tfoot><tr data-township=""><th scope="row">${esc(t("county_total"))}</th>` +
    columns.map((c) => num(sum((r) => r[c]))).join("") + kinds.map((k) => num(sum((r) => kindOf(r, k)))).join("") +
    num(sum((r) => r.contacts?.contacts ?? 0)) + "</tr></tfoot>";
  const head = [t("township"), ...columns.map((c) => ({ text: t(c), num: true })),
    ...kinds.map((k) => ({ text: label("VisitKind", k), num: true })), { text: t("total"), num: true }];
  return `<form class="filters" data-route="county"><label>${esc(t("month"))} <input type="month" name="month" value="${esc(month)}"></label></form>` +
    section(`${t("pages").county} · ${t("contacts", month)}`, `<div class="scroll">${table("townships", head, body, { foot })}</div>`, "county");
};

PAGES.township = async ({ id }) => {
  const township = decodeURIComponent(id);
  const q = `township=${encodeURIComponent(township)}`;
  const [pairings, unpaired, overdue] = await Promise.all([
    all(`/v1/roster?${q}`), all(`/v1/roster/unpaired?${q}`), all(`/v1/roster/overdue?${q}`),
  ]);
  const pairingRows = pairings.map((p) => `<tr><td>${esc(p.group)}</td><td>${link(`elder/${p.elder_id}`, short(p.elder_id))}</td>` +
    `<td>${link(`volunteer/${p.volunteer_id}`, short(p.volunteer_id))}</td><td>${esc(p.from_date)}</td></tr>`);
  const unpairedRows = unpaired.map((e) => `<tr><td>${link(`elder/${e.elder_id}`, short(e.elder_id))}</td><td>${esc(when(e.last_contact_at))}</td></tr>`);
  const overdueRows = overdue.map((e) => `<tr><td>${link(`elder/${e.elder_id}`, short(e.elder_id))}</td><td>${esc(when(e.last_contact_at))}</td>${num(e.days_without_contact)}</tr>`);
  return `<h2>${esc(township)}</h2>` +
    section(t("pairings"), table("pairings", [t("group"), t("elder"), t("volunteer"), t("since")], pairingRows), "roster") +
    section(t("unpaired"), table("unpaired", [t("elder"), t("at")], unpairedRows)) +
    section(t("overdue"), table("overdue", [t("elder"), t("at"), { text: "days", num: true }], overdueRows));
};

PAGES.volunteer = async ({ id, month }) => {
  if (state.me.role === "volunteer" && id !== state.me.volunteer_id) return notForRole();
  const scoreMonth = month || monthBefore(thisMonth());
  const [visits, score, trainings] = await Promise.all([
    all(`/v1/visits?volunteer=${id}`),
    api(`/v1/volunteers/${id}/score/${scoreMonth}/explanation`),
    all(`/v1/volunteers/${id}/trainings`),
  ]);
  const kinds = Object.keys(state.labels.VisitKind);
  const months = [...new Set(visits.map((v) => v.month))].sort();
  const counts = months.map((m) => ({
    label: m, short: m.slice(5),
    values: Object.fromEntries(kinds.map((k) => [k, visits.filter((v) => v.month === m && v.kind === k).length])),
  }));
  const series = kinds.map((k, i) => ({ key: k, label: label("VisitKind", k), cls: `s${i}` }));
  const visitRows = counts.map((c) => `<tr data-month="${c.label}"><th scope="row">${c.label}</th>${kinds.map((k) => num(c.values[k])).join("")}` +
    num(kinds.reduce((s, k) => s + c.values[k], 0)) + "</tr>");
  const termRows = score.terms.map((term) => `<tr data-term="${esc(term.term)}"><th scope="row">${esc(t("terms")[term.term] ?? term.term)}</th>${num(term.value)}<td>${esc(term.line)}</td></tr>`);
  const gradeLabel = label("Grade", score.grade);
  const trainingRows = trainings.map((r) => `<tr><td>${esc(r.on)}</td><td>${esc(r.course)}</td>${num(r.hours)}</tr>`);
  const maySign = ["coordinator", "admin", "volunteer"].includes(state.me.role);
  const year = thisMonth().slice(0, 4);
  const certificate = maySign
    ? section(t("certificate"), `<form class="inline" data-action="certificate"><label>${esc(t("from"))} <input type="date" name="from" value="${year}-01-01"></label>` +
      `<label>${esc(t("to"))} <input type="date" name="to" value="${countyToday()}"></label><button type="submit">${esc(t("issue_download"))}</button></form>`)
    : "";
  return `<h2>${esc(t("volunteer"))} ${esc(short(id))}</h2>` +
    section(t("visits_by_month"), bars(counts, series, { stacked: true }) +
      table("visits-by-month", [t("month"), ...kinds.map((k) => ({ text: label("VisitKind", k), num: true })), { text: t("total"), num: true }], visitRows), "visits") +
    section(`${t("score")} · ${scoreMonth}`,
      `<form class="filters" data-route="volunteer/${esc(id)}"><label>${esc(t("month"))} <input type="month" name="month" value="${esc(scoreMonth)}"></label></form>` +
      `<p class="score"><span data-testid="score-total">${esc(score.total ?? "—")}</span> · <span data-testid="score-grade">${esc(gradeLabel)}</span> · ${esc(t("policy_version"))} ${esc(score.policy.version)}</p>` +
      table("score-terms", [t("term"), { text: t("value"), num: true }, t("explanation")], termRows), "score") +
    section(t("trainings"), table("trainings", [t("day"), t("course"), { text: t("hours"), num: true }], trainingRows)) + certificate;
};

PAGES.elder = async ({ id }) => {
  const [pairings, visits] = await Promise.all([all(`/v1/roster?elder_id=${id}`), all(`/v1/visits?elder=${id}`)]);
  const pairingRows = pairings.map((p) => `<tr><td>${link(`volunteer/${p.volunteer_id}`, short(p.volunteer_id))}</td><td>${esc(p.group)}</td><td>${esc(p.from_date)}</td></tr>`);
  const visitRows = visits.map((v) => `<tr><td>${esc(when(v.started_at))}</td><td>${esc(v.kind_label ?? label("VisitKind", v.kind))}</td>` +
    `<td>${esc(v.status_label ?? v.status)}</td><td>${link(`volunteer/${v.volunteer_id}`, short(v.volunteer_id))}</td></tr>`);
  let health;
  if (state.me.role === "auditor" && !state.reason) {
    health = `<form class="inline" data-action="reason"><label>${esc(t("reason"))} <input name="reason" required minlength="2"></label><button type="submit">${esc(t("show"))}</button></form>`;
  } else {
    const reason = state.me.role === "auditor" ? `?reason=${encodeURIComponent(state.reason)}` : "";
    health = healthChart(await all(`/v1/elders/${id}/health${reason}`));
  }
  return `<h2>${esc(t("elder"))} ${esc(short(id))}</h2>` +
    section(t("pairings"), table("elder-pairings", [t("volunteer"), t("group"), t("since")], pairingRows)) +
    section(t("health"), health, "health") +
    section(t("visits"), table("elder-visits", [t("at"), t("kind"), t("status"), t("volunteer")], visitRows));
};

function healthChart(readings) {
  const fields = [["systolic", "systolic"], ["diastolic", "diastolic"], ["pulse", "pulse"], ["glucose", "glucose_mmol_l"]];
  const number = (text) => (text == null ? null : Number(text));
  const points = readings.map((r) => ({ label: when(r.taken_at), short: when(r.taken_at).slice(5, 10),
    values: Object.fromEntries(fields.map(([k, src]) => [k, number(r[src])])) }));
  const series = fields.map(([k], i) => ({ key: k, label: t(k), cls: `s${i}` }));
  const rows = readings.map((r, i) => `<tr><td>${esc(points[i].label)}</td>${fields.map(([, src]) => num(r[src])).join("")}</tr>`);
  return lines(points, series) + table("health-readings", [t("at"), ...fields.map(([k]) => ({ text: t(k), num: true }))], rows);
}

PAGES.budget = async ({ id, status }) => {
  const year = id || thisMonth().slice(0, 4);
  const audit = await api(`/v1/audit/budget/${year}`);
  const chosen = status || Object.keys(audit.claims)[0];
  const [burndown, claims] = await Promise.all([
    api(`/v1/audit/budget/${year}/burndown`),
    chosen ? api(`/v1/claims?status=${chosen}&limit=100`) : { items: [] },
  ]);
  const lineRows = [...audit.lines, audit.total].map((l) => `<tr data-line="${esc(l.line)}"><th scope="row">${esc(label("BudgetLine", l.line))}</th>` +
    ["appropriated", "committed", "paid", "available"].map((k) => num(yuan(l[k]))).join("") + "</tr>");
  const points = burndown.months.map((m) => ({ label: m.month, short: m.month.slice(5), values: m.total }));
  const series = ["committed", "paid", "available"].map((k, i) => ({ key: k, label: t(k), cls: `s${i}` }));
  const burnRows = burndown.months.map((m) => `<tr data-month="${m.month}"><th scope="row">${m.month}</th>` +
    ["appropriated", "committed", "paid", "available"].map((k) => num(yuan(m.total[k]))).join("") + "</tr>");
  const statusRows = Object.entries(audit.claims).map(([s, c]) => `<tr data-status="${esc(s)}"><th scope="row">${link(`budget/${year}?status=${s}`, label("ClaimStatus", s))}</th>${num(c.count)}${num(yuan(c.total_fen))}</tr>`);
  const claimRows = claims.items.map((c) => `<tr><td>${link(`claim/${c.id}`, short(c.id))}</td><td>${esc(c.month)}</td>` +
    `<td>${link(`volunteer/${c.volunteer_id}`, short(c.volunteer_id))}</td>${num(yuan(c.total_fen))}<td>${esc(c.status_label ?? c.status)}</td></tr>`);
  const money = (k) => ({ text: t(k), num: true });
  return `<h2>${esc(t("pages").budget)} ${esc(year)}</h2>` +
    section(t("lines"), table("budget-lines", [t("line"), money("appropriated"), money("committed"), money("paid"), money("available")], audit.lines.length ? lineRows : []), "lines") +
    section(t("burndown"), (audit.lines.length ? lines(points.map((p) => ({ ...p, values: Object.fromEntries(Object.entries(p.values).map(([k, v]) => [k, v / 100])) })), series) : "") +
      table("burndown", [t("month"), money("appropriated"), money("committed"), money("paid"), money("available")], audit.lines.length ? burnRows : []), "burndown") +
    section(t("claims_by_status"), table("claims-by-status", [t("status"), { text: t("count"), num: true }, { text: t("amount"), num: true }], statusRows) +
      (chosen ? `<h3>${esc(label("ClaimStatus", chosen))}</h3>` + table("claims", ["#", t("month"), t("volunteer"), { text: t("amount"), num: true }, t("status")], claimRows) : ""), "claims");
};

PAGES.claim = async ({ id }) => {
  const claim = await api(`/v1/claims/${id}`);
  const trail = claim.trail ?? { events: [], items: [], anomalies: [] };
  if (typeof trail.position === "number") state.reads.push({ path: "trail", position: trail.position, lag: trail.lag ?? 0 });
  const eventRows = (trail.events ?? []).map((e) => `<tr><td class="num">${esc(e.position)}</td><td>${esc(e.event)}</td><td>${esc(when(e.recorded_at))}</td><td>${esc(e.principal_id)}</td><td><code>${esc(JSON.stringify(e.detail))}</code></td></tr>`);
  const itemRows = (trail.items ?? []).map((item) => {
    const v = item.visit ?? {};
    return `<tr><td>${esc(short(item.visit_id))}</td>${num(yuan(item.transport_fen))}<td>${esc(when(v.started_at))}</td>` +
      `<td class="num">${esc(v.recorded_pos ?? v.position ?? "")}</td><td>${v.pairing_id ? esc(short(v.pairing_id)) : ""}</td><td class="num">${esc(v.pairing_pos ?? item.pairing?.formed_pos ?? "")}</td></tr>`;
  });
  const anomalies = (trail.anomalies ?? []).map((a) => `<tr><td>${esc(a.code)}</td><td>${esc(a.rule_label ?? label("AnomalyRule", a.code))}</td><td>${esc(a.description)}</td>${num(yuan(a.amount_fen))}</tr>`);
  return `<h2>${esc(t("claim"))} ${esc(short(id))}</h2>` +
    `<p data-testid="claim-summary">${esc(claim.month)} · ${esc(label("ClaimStatus", claim.status))} · ${esc(t("amount"))} <span class="num">${esc(yuan(claim.total_fen))}</span> · ${link(`volunteer/${claim.volunteer_id}`, short(claim.volunteer_id))}</p>` +
    section(t("trail"), table("trail", [{ text: t("position"), num: true }, t("event"), t("at"), t("who"), t("detail")], eventRows), "trail") +
    section(t("items"), table("trail-items", [t("visit"), { text: t("amount"), num: true }, t("at"), { text: t("position"), num: true }, t("pairing"), { text: t("position"), num: true }], itemRows)) +
    section(t("anomalies"), table("claim-anomalies", [t("rule"), "", t("description"), { text: t("at_stake"), num: true }], anomalies));
};

PAGES.audit = async ({ year = thisMonth().slice(0, 4) }) => {
  const [anomalies, audit, seals] = await Promise.all([all("/v1/audit/anomalies"), api(`/v1/audit/budget/${year}`), api("/v1/audit/seals")]);
  const reconciliation = audit.lines.length ? await api(`/v1/audit/budget/${year}/reconciliation`) : null;
  const byRule = {};
  for (const a of anomalies) (byRule[a.code] ??= []).push(a);
  const ruleRows = Object.keys(byRule).sort().map((code) => `<tr data-rule="${esc(code)}"><th scope="row">${esc(code)}</th><td>${esc(label("AnomalyRule", code))}</td>${num(byRule[code].length)}${num(yuan(byRule[code].reduce((s, a) => s + (a.amount_fen ?? 0), 0)))}</tr>`);
  const anomalyRows = anomalies.map((a) => `<tr><td>${esc(a.code)}</td><td>${esc(a.description)}</td>${num(yuan(a.amount_fen))}</tr>`);
  const reconRows = reconciliation ? [...reconciliation.lines, reconciliation.total].map((l) => `<tr data-line="${esc(l.line)}"><th scope="row">${esc(label("BudgetLine", l.line))}</th>` +
    ["appropriated", "paid", "available"].map((k) => num(yuan(l[k]))).join("") + num(yuan(l.difference)) + `<td>${esc(l.balanced ? t("balanced") : t("unbalanced"))}</td></tr>`) : [];
  const sealRows = seals.items.map((s) => `<tr><td class="num">${esc(s.seq)}</td>${num(s.tree_size)}<td>${esc(when(s.sealed_at))}</td><td><code>${esc(s.root.slice(0, 16))}…</code></td></tr>`);
  const sample = state.sample
    ? table("sample", ["#", t("month"), "stratum", { text: t("amount"), num: true }, t("anomalies")],
      state.sample.claims.map((c) => `<tr><td>${link(`claim/${c.claim_id}`, short(c.claim_id))}</td><td>${esc(c.month)}</td><td>${esc(c.stratum)}</td>${num(yuan(c.total_fen))}<td>${esc((c.anomalies ?? []).map((a) => a.code ?? a).join(", "))}</td></tr>`))
    : "";
  const money = (k) => ({ text: t(k), num: true });
  return `<h2>${esc(t("pages").audit)} ${esc(year)}</h2>` +
    section(t("anomalies"), table("anomalies-by-rule", [t("rule"), t("description"), { text: t("count"), num: true }, money("at_stake")], ruleRows) +
      `<details><summary>${esc(t("anomalies"))} (${anomalies.length})</summary>${table("anomalies", [t("rule"), t("description"), money("at_stake")], anomalyRows)}</details>`, "anomalies") +
    section(t("sample"), `<form class="inline" data-action="sample"><input type="hidden" name="year" value="${esc(year)}">` +
      `<label>${esc(t("size"))} <input type="number" name="size" min="1" max="500" value="10"></label>` +
      `<label>${esc(t("seed"))} <input type="number" name="seed" value="42"></label>` +
      `<label>${esc(t("stratify"))} <select name="stratify_by"><option value="">${esc(t("none"))}</option><option value="township">${esc(t("township"))}</option><option value="amount">${esc(t("amount"))}</option></select></label>` +
      `<button type="submit">${esc(t("draw"))}</button></form>` + sample, "sample") +
    section(t("reconciliation"), reconciliation
      ? `<p data-testid="reconciliation-result">${esc(reconciliation.balanced ? t("balanced") : t("unbalanced"))}</p>` +
        table("reconciliation", [t("line"), money("appropriated"), money("paid"), money("available"), money("difference"), t("status")], reconRows)
      : `<p class="empty" data-testid="reconciliation-empty">${esc(t("empty"))}</p>`, "reconciliation") +
    section(t("exports"), audit.lines.length ? `<button type="button" data-action="export" data-year="${esc(year)}">${esc(t("download_export"))}</button>` : `<p class="empty">${esc(t("empty"))}</p>`) +
    section(t("seals"), table("seals", [{ text: t("seal"), num: true }, { text: t("tree_size"), num: true }, t("sealed_at"), "root"], sealRows) +
      `<button type="button" data-action="verify">${esc(t("verify"))}</button><p data-testid="verify-result">${esc(state.verified ?? "")}</p>`, "seals");
};

PAGES.evaluation = async ({ month = monthBefore(thisMonth()), volunteer }) => {
  const [distribution, ranking, policies] = await Promise.all([
    api(`/v1/scores/distribution?month=${month}&limit=500`),
    all(`/v1/scores?month=${month}`, 500),
    api("/v1/policies"),
  ]);
  const grades = ["excellent", "good", "pass", "fail", "not_rated"];
  const gradeLabel = (g) => distribution.grade_labels?.[g] ?? label("Grade", g);
  const rows = distribution.items.map((r) => ({ label: r.township, short: r.township.slice(0, 2), values: r.grades }));
  const series = grades.map((g, i) => ({ key: g, label: gradeLabel(g), cls: `s${i}` }));
  const distRows = distribution.items.map((r) => `<tr data-township="${esc(r.township)}"><th scope="row">${esc(r.township)}</th>${grades.map((g) => num(r.grades[g])).join("")}${num(r.volunteers)}</tr>`);
  const rankRows = ranking.map((s) => `<tr data-volunteer="${esc(s.volunteer_id)}"><td class="num">${esc(s.rank ?? "")}</td><td>${link(`evaluation?month=${month}&volunteer=${s.volunteer_id}`, short(s.volunteer_id))}</td>` +
    `<td>${esc(s.township)}</td>${num(s.total ?? "")}<td>${esc(label("Grade", s.grade))}</td></tr>`);
  const scoring = policies.items.find((p) => p.kind === "scoring");
  const versions = (scoring?.versions ?? []).map((v) => v.version);
  let compare = "";
  const chosen = volunteer || ranking.find((s) => s.rank === 1)?.volunteer_id;
  if (versions.length < 2) compare = `<p class="empty" data-testid="compare-one-version">${esc(t("only_one_version"))}</p>`;
  else if (chosen) {
    const pair = versions.slice(-2).join(",");
    const side = await api(`/v1/volunteers/${chosen}/score/${month}/compare?versions=${pair}`);
    const terms = side.versions[0].terms.map((x) => x.term);
    const head = [t("term"), ...side.versions.map((v) => ({ text: `${t("policy_version")} ${v.policy.version}`, num: true }))];
    const termRows = terms.map((term) => `<tr data-term="${esc(term)}"><th scope="row">${esc(t("terms")[term] ?? term)}</th>${side.versions.map((v) => num(v.terms.find((x) => x.term === term)?.value)).join("")}</tr>`);
    termRows.push(`<tr data-term="total"><th scope="row">${esc(t("total"))}</th>${side.versions.map((v) => num(v.total)).join("")}</tr>`);
    termRows.push(`<tr data-term="grade"><th scope="row">${esc(t("grade"))}</th>${side.versions.map((v) => `<td class="num">${esc(label("Grade", v.grade))}</td>`).join("")}</tr>`);
    compare = `<p>${link(`volunteer/${chosen}?month=${month}`, short(chosen))}</p>` + table("compare", head, termRows);
  }
  return `<form class="filters" data-route="evaluation"><label>${esc(t("month"))} <input type="month" name="month" value="${esc(month)}"></label></form>` +
    section(`${t("distribution")} · ${month}`, bars(rows, series, { stacked: true }) +
      table("distribution", [t("township"), ...grades.map((g) => ({ text: gradeLabel(g), num: true })), { text: t("volunteers"), num: true }], distRows), "distribution") +
    section(t("ranking"), table("ranking", [{ text: t("rank"), num: true }, t("volunteer"), t("township"), { text: t("score"), num: true }, t("grade")], rankRows), "ranking") +
    section(t("compare"), compare, "compare");
};

// Routing, roles and rendering ------------------------------------------------------------------

function route() {
  const [path, query = ""] = location.hash.replace(/^#\/?/, "").split("?");
  const [page = "home", id] = path.split("/");
  return { page: PAGES[page] ? page : "home", params: { ...Object.fromEntries(new URLSearchParams(query)), id } };
}

const mayShow = (page) => page === "home" || CONFIG.pages[page].roles.includes(state.me.role);

function notForRole() {
  const roles = (CONFIG.pages[route().page]?.roles ?? []).map((r) => t("role")[r]).join("、");
  return `<div class="refused" data-testid="not-for-role"><h2>${esc(t("not_for_role"))}</h2><p>${esc(t("not_for_role_detail", t("role")[state.me.role], roles))}</p></div>`;
}

function chrome() {
  document.title = t("title");
  document.querySelector("#title").textContent = t("title");
  document.querySelector("#lang").textContent = t("switch_lang");
  const nav = document.querySelector("nav");
  if (!state.me) {
    nav.innerHTML = "";
    return;
  }
  const pages = Object.keys(CONFIG.pages).filter((id) => CONFIG.pages[id].nav && mayShow(id));
  const own = state.me.role === "volunteer" ? [`<a href="#/volunteer/${esc(state.me.volunteer_id)}">${esc(t("pages").volunteer)}</a>`] : [];
  nav.innerHTML = [...own, ...pages.map((id) => link(id, t("pages")[id]))].join("") +
    `<span class="who" data-testid="who">${esc(t("signed_in_as"))}: ${esc(state.me.name)} (${esc(t("role")[state.me.role])})</span>` +
    `<button type="button" data-action="sign-out">${esc(t("sign_out"))}</button>`;
}

function signInForm(message = "") {
  return `<form class="sign-in" data-action="sign-in"><h2>${esc(t("sign_in"))}</h2>` +
    `<label for="key">${esc(t("key_prompt"))}</label><input id="key" name="key" type="password" autocomplete="off" required>` +
    `<button type="submit">${esc(t("sign_in"))}</button><p class="hint">${esc(t("key_kept"))}</p>` +
    (message ? `<p class="error" role="alert">${esc(message)}</p>` : "") + "</form>";
}

async function render({ quiet = false } = {}) {
  const main = document.querySelector("main");
  const seq = ++state.seq;
  chrome();
  if (!state.me) {
    delete main.dataset.ready;
    main.innerHTML = signInForm();
    document.querySelector("#freshness").textContent = "";
    return;
  }
  const { page, params } = route();
  main.dataset.page = page;
  delete main.dataset.ready;
  if (!mayShow(page)) {
    main.innerHTML = notForRole();
    main.dataset.ready = String(seq);
    document.querySelector("#freshness").textContent = "";
    return;
  }
  if (!quiet) main.innerHTML = `<p class="loading">${esc(t("loading"))}</p>`;
  state.reads = [];
  let html;
  try {
    html = await PAGES[page](params);
  } catch (error) {
    html = failure(error);
  }
  if (seq !== state.seq) return; // a later render overtook this one
  const scroll = window.scrollY;
  main.innerHTML = html;
  main.dataset.ready = String(seq);
  if (quiet) window.scrollTo(0, scroll);
  showFreshness();
}

function failure(error) {
  if (!(error instanceof Problem)) throw error;
  if (error.status === 404) return `<p class="empty" data-testid="not-found">${esc(t("not_found"))}: ${esc(error.message)}</p>`;
  if (error.status === 403) return `<div class="refused" data-testid="not-for-role"><h2>${esc(t("not_for_role"))}</h2><p>${esc(error.message)}</p></div>`;
  return `<p class="error" role="alert" data-testid="problem">${esc(t("error"))} (${error.status}): ${esc(error.message)}</p>`;
}

function showFreshness() {
  const element = document.querySelector("#freshness");
  if (!state.reads.length) {
    element.textContent = "";
    return;
  }
  const position = Math.min(...state.reads.map((r) => r.position));
  const lag = Math.max(...state.reads.map((r) => r.lag));
  state.shown = Math.max(...state.reads.map((r) => r.position));
  element.dataset.position = String(position);
  element.dataset.lag = String(lag);
  element.textContent = t("freshness", position, lag);
  if (lag > 0) setTimeout(() => refresh(), 1000); // the read models are catching up: read again shortly
}

// Live: read the page again when the log moves ----------------------------------------------------

let pending = null;
function refresh() {
  clearTimeout(pending);
  pending = setTimeout(() => {
    if (document.querySelector("main form:focus-within")) return; // never under a user's typing
    render({ quiet: true });
  }, 300);
}

async function follow() {
  const controller = new AbortController();
  state.live = controller;
  const status = document.querySelector("#live");
  const logReader = CONFIG.log_readers.includes(state.me.role);
  let seen = null; // the last position the stream told of: a reconnection resumes after it
  while (state.live === controller) {
    try {
      if (logReader && seen === null) seen = (await (await call("/v1/events?limit=1")).json()).head;
      const url = logReader ? `/v1/events/stream?after=${seen}&max_seconds=300` : "/v1/events/heads?max_seconds=300";
      const response = await call(url);
      status.textContent = t("live");
      status.className = "on";
      await readEvents(response, controller, (position) => {
        seen = Math.max(seen ?? 0, position);
        if (position > state.shown) refresh();
      });
    } catch (error) {
      if (controller.signal.aborted) return;
      status.textContent = t("offline");
      status.className = "off";
      await new Promise((resolve) => setTimeout(resolve, 3000));
    }
  }
}

/** Read a server-sent-event stream with fetch (EventSource cannot send the Authorization header). */
async function readEvents(response, controller, onPosition) {
  const reader = response.body.getReader();
  controller.signal.addEventListener("abort", () => reader.cancel());
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const message = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const id = message.split("\n").find((line) => line.startsWith("id: "));
      if (id) onPosition(Number(id.slice(4)));
    }
  }
}

function stopFollowing() {
  state.live?.abort();
  state.live = null;
}

// Sign-in, actions, start-up ---------------------------------------------------------------------

async function signIn(key) {
  state.key = key;
  try {
    state.me = await api("/v1/me");
  } catch (error) {
    state.key = null;
    state.me = null;
    if (!(error instanceof Problem)) throw error;
    document.querySelector("main").innerHTML = signInForm(t("key_refused"));
    return;
  }
  sessionStorage.setItem(KEY, key);
  state.labels = (await api(`/v1/labels?lang=${lang()}`)).families;
  await render();
  follow();
}

function signOut() {
  stopFollowing();
  sessionStorage.removeItem(KEY);
  Object.assign(state, { key: null, me: null, reason: null, sample: null, verified: null });
  location.hash = "#/";
  render();
}

const ACTIONS = {
  "sign-in": (form) => signIn(form.key.value.trim()),
  reason: (form) => {
    state.reason = form.reason.value.trim();
    return render();
  },
  certificate: async (form) => {
    const { id } = route().params;
    const period = { from: form.from.value, to: form.to.value };
    await api(`/v1/volunteers/${id}/certificates`, { method: "POST", body: period });
    await download(`/v1/volunteers/${id}/certificate?from=${period.from}&to=${period.to}&format=pdf&lang=${lang()}`, `certificate-${short(id)}-${period.to}.pdf`);
  },
  sample: async (form) => {
    const body = { year: Number(form.year.value), size: Number(form.size.value), seed: Number(form.seed.value) };
    if (form.stratify_by.value) body.stratify_by = form.stratify_by.value;
    const drawn = await api("/v1/audit/samples", { method: "POST", body }); // a write answers {id, version, position}
    state.sample = await api(`/v1/audit/samples/${drawn.id}?after=${drawn.position}`);
    return render();
  },
};

const BUTTONS = {
  "sign-out": () => signOut(),
  export: (button) => download(`/v1/audit/exports/${button.dataset.year}`, `tiexin-audit-${button.dataset.year}.zip`),
  verify: async () => {
    const result = await api("/v1/audit/verify");
    state.verified = `${result.intact ? "✔" : "✘"} ${result.summary}`;
    document.querySelector("[data-testid=verify-result]").textContent = state.verified;
  },
};

function reportActionError(error) {
  const alert = Object.assign(document.createElement("p"), { className: "error" });
  alert.setAttribute("role", "alert");
  alert.textContent = error instanceof Problem ? `${t("error")} (${error.status}): ${error.message}` : String(error);
  document.querySelector("main").prepend(alert);
}

document.addEventListener("submit", (event) => {
  const form = event.target;
  const action = ACTIONS[form.dataset.action];
  if (!action) return;
  event.preventDefault();
  Promise.resolve(action(form)).catch(reportActionError);
});

document.addEventListener("change", (event) => {
  const form = event.target.closest("form.filters");
  if (!form) return;
  const query = new URLSearchParams(new FormData(form)).toString();
  location.hash = `#/${form.dataset.route}?${query}`;
});

document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-action]");
  if (!button || button.type === "submit") return;
  const action = BUTTONS[button.dataset.action];
  if (action) Promise.resolve(action(button)).catch(reportActionError);
});

document.querySelector("#lang").addEventListener("click", async () => {
  setLang(lang() === "zh" ? "en" : "zh");
  if (state.me) state.labels = (await api(`/v1/labels?lang=${lang()}`)).families;
  render();
});

window.addEventListener("hashchange", () => render());

setLang(lang());
if (state.key) signIn(state.key);
else render();
