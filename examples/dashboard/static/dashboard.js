"use strict";
// The dashboard page: both views, fed only by oneM2M requests and notifications (cse.js).

const stats = window.dashboardStats = { ready: false, notifications: 0, latencies: [], failures: [], homeFound: null };
const $ = (id) => document.getElementById(id);
const fmt = (v, d) => (typeof v === "number" && isFinite(v) ? v.toFixed(d === undefined ? 1 : d) : "–");
const parse = (cin) => { try { return typeof cin.con === "string" ? JSON.parse(cin.con) : cin.con; } catch (e) { return null; } };
const simSeconds = (iso) => Date.parse(iso + (/[zZ+]/.test(iso.slice(10)) ? "" : "Z")) / 1000;
let cse = null;
let simNow = null;            // the building's simulated time, from its readings

function setStatus(good, text) { const s = $("status"); s.textContent = text; s.className = "status" + (good ? "" : " bad"); }
function fail(where, error) {
  stats.failures.push(where + ": " + error.message);
  setStatus(false, where + ": " + error.message);
}
// Latency from the gateway's update of a resource (its lt) to the page showing it.
function measured(resource) {
  const lt = parseTimestamp(resource && resource.lt);
  if (isFinite(lt)) stats.latencies.push(Date.now() - lt);
}

// -- charts -------------------------------------------------------------------------------------
function chart(el, series, opts) {
  const width = Math.max(480, el.clientWidth || 560);
  // the building's times are its local times, carried as UTC: show them as they are
  return new uPlot(Object.assign({ width: width, height: 220, tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"),
                                   scales: { x: { time: true } }, series: [{}].concat(series),
                                   axes: [{}, { size: 50 }] }, opts || {}),
                   [[]].concat(series.map(() => [])), el);
}
const charts = stats.charts = {};

// -- building ------------------------------------------------------------------------------------
const building = { zones: new Map(), readings: [], demand: [], alarms: new Map(), acks: new Map() };

function zoneCell(zone) {
  let z = building.zones.get(zone);
  if (!z) {
    z = { temp: null, kw: null, fault: false };
    building.zones.set(zone, z);
  }
  return z;
}

function drawZones() {
  const floors = new Map();
  for (const [zone, z] of [...building.zones.entries()].sort()) {
    const floor = zone.split("-")[0];
    if (!floors.has(floor)) floors.set(floor, []);
    floors.get(floor).push([zone, z]);
  }
  const box = $("zones");
  box.textContent = "";
  for (const [floor, zones] of floors) {
    const row = document.createElement("div");
    row.className = "floor";
    const label = document.createElement("div");
    label.className = "label";
    label.textContent = "Floor " + floor + (building.floorKw && building.floorKw[floor] !== undefined ? " · " + fmt(building.floorKw[floor]) + " kW" : "");
    row.appendChild(label);
    for (const [zone, z] of zones) {
      const cell = document.createElement("div");
      cell.className = "zone" + (z.fault ? " fault" : "");
      cell.id = "zone-" + zone;
      cell.innerHTML = "<div>Zone " + zone + "</div><div class='t'><span class='temp'>" + fmt(z.temp) +
        "</span> °C</div><div><span class='kw'>" + fmt(z.kw, 2) + "</span> kW</div>";
      row.appendChild(cell);
    }
    box.appendChild(row);
  }
}

function drawReadings() {
  const r = building.readings;
  if (!r.length) return;
  const last = r[r.length - 1];
  $("main-kw").textContent = fmt(last.kw) + " kW";
  const first = r.find((x) => x.kwh !== undefined);
  $("main-kwh").textContent = fmt(last.kwh - first.kwh) + " kWh";
  charts.consumption.setData([r.map((x) => simSeconds(x.t)), r.map((x) => x.kw)]);
}

function drawDemand() {
  const d = building.demand;
  if (!d.length) return;
  let peak = 0;
  d.forEach((x, i) => { if (x.kw > d[peak].kw) peak = i; });
  $("peak").textContent = fmt(d[peak].kw) + " kW from " + d[peak].start.slice(11, 16);
  charts.demand.setData([d.map((x) => simSeconds(x.start)), d.map((x) => x.kw), d.map((x, i) => (i === peak ? x.kw : null))]);
}

function drawUsage(u) {
  $("carbon").textContent = fmt(u.carbon_kg, 0) + " kg CO₂";
  $("goal").textContent = fmt(u.building_kwh, 0) + " of " + fmt(u.goal_kwh, 0) + " kWh " + (u.goal_met ? "(within the goal)" : "(goal exceeded)");
}

function drawAlarms() {
  const body = $("alarms");
  body.textContent = "";
  const list = [...building.alarms.values()].sort((a, b) => (a.ct < b.ct ? 1 : -1));
  if (!list.length) { body.innerHTML = "<tr><td colspan='5' class='muted'>no alarms</td></tr>"; return; }
  for (const a of list) {
    const tr = document.createElement("tr");
    tr.id = "alarm-" + a.id;
    tr.className = "alarm" + (building.acks.has(a.id) ? " acked" : " open");
    const cells = [(a.t || "").slice(11, 16), a.kind, a.device || "", a.message];
    for (const [i, text] of cells.entries()) {
      const td = document.createElement("td");
      td.textContent = text;
      if (i === 1) td.className = "kind-" + a.kind;
      tr.appendChild(td);
    }
    const td = document.createElement("td");
    const ack = building.acks.get(a.id);
    if (ack) {
      td.textContent = "by " + ack.by + " at " + String(ack.t || "").slice(11, 16);
      td.className = "ack-done";
    } else if (a.kind !== "recovered") {
      const button = document.createElement("button");
      button.textContent = "Acknowledge";
      button.className = "ack";
      button.onclick = () => acknowledge(a.id, button);
      td.appendChild(button);
    }
    tr.appendChild(td);
    body.appendChild(tr);
  }
}

async function acknowledge(id, button) {
  button.disabled = true;
  const t = simNow || new Date().toISOString().slice(0, 19);
  try {
    await cse.create(cse.config.building.app + "/acks", 4,
                     { "m2m:cin": { cnf: "application/json:0", con: JSON.stringify({ alarm: id, by: "dashboard", t: t }) } });
  } catch (e) { button.disabled = false; fail("acknowledge", e); }
  // the row changes when the acks container notifies us of the new instance
}

function addAlarm(cin) {
  const a = parse(cin);
  if (a) building.alarms.set(cin.ri, Object.assign({ id: cin.ri, ct: cin.ct }, a));
}
function addAck(cin) {
  const a = parse(cin);
  if (a && a.alarm) building.acks.set(a.alarm, a);
}

function showChiller(m) {
  if (m.tarTe !== undefined) $("chiller-tarTe").textContent = fmt(m.tarTe);
  if (m.curT0 !== undefined) $("chiller-curT0").textContent = fmt(m.curT0);
}
function showLight(m) {
  if (m.state !== undefined) { $("light-state").textContent = m.state ? "on" : "off"; building.light = m.state; }
}

async function startBuilding() {
  const where = cse.config.building;
  const proxy = where.proxy, app = where.app;
  charts.consumption = chart($("chart-consumption"), [{ label: "main meter kW", stroke: "#1f77b4", width: 2 }]);
  charts.demand = chart($("chart-demand"), [
    { label: "15-min demand kW", stroke: "#2a9d8f", width: 2, fill: "#2a9d8f22" },
    { label: "peak", stroke: "#d62828", width: 0, points: { show: true, size: 12, fill: "#d62828", stroke: "#d62828" } },
  ]);

  // zones: temperature sensors and zone meters, found by label, followed by subscriptions
  const sensors = await cse.discover(proxy, { lbl: ["building:type/sensor"], ty: [28] });
  const meters = await cse.discover(proxy, { lbl: ["building:type/meter"], ty: [28] });
  building.floorKw = {};
  const follow = async (address, module, apply) => {
    apply(await cse.retrieve(address + "/" + module));
    await cse.subscribe(address + "/" + module, 1, (m) => { stats.notifications++; apply(m); drawZones(); measured(m); });
  };
  const jobs = [];
  for (const s of sensors) {
    const zone = s.split("/").pop().replace("sensor-", "");
    zoneCell(zone);
    jobs.push(follow(s, "temperature", (m) => { if (m.curT0 !== undefined) zoneCell(zone).temp = m.curT0; }));
  }
  for (const m of meters) {
    const name = m.split("/").pop();
    const zoneMatch = /^meter-(\d+-\d+)$/.exec(name), floorMatch = /^meter-floor-(\d+)$/.exec(name);
    if (zoneMatch) {
      jobs.push(follow(m, "energyConsumption", (r) => { if (r.power !== undefined) zoneCell(zoneMatch[1]).kw = r.power / 1000; }));
    } else if (floorMatch) {
      jobs.push(follow(m, "energyConsumption", (r) => { if (r.power !== undefined) building.floorKw[floorMatch[1]] = r.power / 1000; }));
    }
  }
  await Promise.all(jobs);
  drawZones();

  // the main meter's readings (consumption) and the energy app's demand, usage and alarms
  const main = proxy + "/readings/meter-main";
  const addReading = (cin) => { const r = parse(cin); if (r) { building.readings.push(r); simNow = r.t; $("sim-time").textContent = "building time " + r.t.slice(11, 16); } };
  await cse.subscribe(main, 3, (cin) => { stats.notifications++; addReading(cin); drawReadings(); });
  (await cse.instances(main)).forEach(addReading);
  building.readings.sort((a, b) => (a.t < b.t ? -1 : 1));
  building.readings = building.readings.filter((r, i, all) => i === 0 || r.t !== all[i - 1].t);
  drawReadings();

  await cse.subscribe(app + "/demand", 3, (cin) => { stats.notifications++; const d = parse(cin); if (d) building.demand.push(d); drawDemand(); });
  (await cse.instances(app + "/demand")).forEach((cin) => { const d = parse(cin); if (d && !building.demand.some((x) => x.start === d.start)) building.demand.push(d); });
  building.demand.sort((a, b) => (a.start < b.start ? -1 : 1));
  drawDemand();

  await cse.subscribe(app + "/usage", 3, (cin) => { stats.notifications++; const u = parse(cin); if (u) drawUsage(u); });
  const usage = await cse.instances(app + "/usage");
  if (usage.length) drawUsage(parse(usage[usage.length - 1]));

  await cse.subscribe(app + "/alarms", 3, (cin) => { stats.notifications++; addAlarm(cin); drawAlarms(); });
  await cse.subscribe(app + "/acks", 3, (cin) => { stats.notifications++; addAck(cin); drawAlarms(); });
  (await cse.instances(app + "/alarms")).forEach(addAlarm);
  (await cse.instances(app + "/acks")).forEach(addAck);
  drawAlarms();

  // control: through the CSE to the device and back (the proxy sets the module to what the device reports)
  const chiller = proxy + "/chiller-1/temperature", light = proxy + "/light-1-1/binarySwitch";
  showChiller(await cse.retrieve(chiller));
  await cse.subscribe(chiller, 1, (m) => { stats.notifications++; showChiller(m); measured(m); });
  showLight(await cse.retrieve(light));
  await cse.subscribe(light, 1, (m) => { stats.notifications++; showLight(m); });
  $("chiller-set").onclick = async () => {
    const value = Number($("chiller-setpoint").value);
    $("control-note").textContent = "set point " + value + " °C sent…";
    try { await cse.update(chiller, { "cod:tempe": { tarTe: value } }); $("control-note").textContent = "set point " + value + " °C sent; the module shows what the chiller reports"; }
    catch (e) { fail("set point", e); }
  };
  $("light-toggle").onclick = async () => {
    try { await cse.update(light, { "cod:binSh": { state: !building.light } }); }
    catch (e) { fail("light", e); }
  };
}

// -- home ----------------------------------------------------------------------------------------
const home = { days: new Map(), peaks: [] };

function drawHome() {
  const days = [...home.days.values()].sort((a, b) => (a.day + a.home < b.day + b.home ? -1 : 1));
  const body = $("home-days");
  body.textContent = "";
  for (const d of days) {
    const tr = document.createElement("tr");
    const apps = Object.entries(d.appliances || {}).map(([n, v]) => n + " " + fmt(v, 2)).join(", ");
    for (const text of [d.day + (d.partial ? " (so far)" : ""), d.home, fmt(d.kwh, 2), apps]) {
      const td = document.createElement("td"); td.textContent = text; tr.appendChild(td);
    }
    body.appendChild(tr);
  }
  if (days.length && charts.home) charts.home.setData([days.map((d) => Date.parse(d.day + "T12:00:00Z") / 1000), days.map((d) => d.kwh)]);
  const peaks = $("home-peaks");
  peaks.textContent = "";
  if (!home.peaks.length) peaks.innerHTML = "<tr><td colspan='6' class='muted'>no peaks</td></tr>";
  for (const p of home.peaks) {
    const tr = document.createElement("tr");
    for (const text of [p.t, p.home, fmt(p.kw, 2), fmt(p.threshold_kw, 2), (p.appliance || "") + " (" + fmt(p.appliance_kw, 2) + " kW)", p.action || ""]) {
      const td = document.createElement("td"); td.textContent = text; tr.appendChild(td);
    }
    peaks.appendChild(tr);
  }
}

async function startHome() {
  const base = cse.config.cseRn;
  const daily = await cse.discover(base, { lbl: ["hems:daily"] });
  const alerts = await cse.discover(base, { lbl: ["hems:alerts"] });
  stats.homeFound = daily.length + alerts.length > 0;
  if (!stats.homeFound) {
    $("home-note").textContent = "No home energy application on this platform: no container labelled hems:daily or hems:alerts " +
      "that " + cse.config.originator + " may discover. Point the dashboard at a HEMS platform (python -m examples.hems).";
    return;
  }
  $("home-note").textContent = "daily consumption from " + daily.join(", ") + "; peaks from " + alerts.join(", ");
  charts.home = chart($("chart-home"), [{ label: "kWh per day", stroke: "#e76f51", width: 2, points: { show: true, size: 8 } }]);
  const addDay = (cin) => { const d = parse(cin); if (d) home.days.set(d.day + "/" + d.home, d); };
  const addPeak = (cin) => { const p = parse(cin); if (p && p.type === "peak") home.peaks.push(p); };
  for (const c of daily) {
    await cse.subscribe(c, 3, (cin) => { stats.notifications++; addDay(cin); drawHome(); });
    (await cse.instances(c)).forEach(addDay);
  }
  for (const c of alerts) {
    await cse.subscribe(c, 3, (cin) => { stats.notifications++; addPeak(cin); drawHome(); });
    (await cse.instances(c)).forEach(addPeak);
  }
  drawHome();
}

// -- start ---------------------------------------------------------------------------------------
function tabs() {
  for (const name of ["building", "home"]) {
    $("tab-" + name).onclick = () => {
      for (const other of ["building", "home"]) {
        $("view-" + other).hidden = other !== name;
        $("tab-" + other).classList.toggle("active", other === name);
      }
    };
  }
}

async function start() {
  tabs();
  const config = await (await fetch("/config.json")).json();
  cse = new Cse(config, setStatus);
  await cse.open();
  // A platform may have one use case and not the other: the missing one says so in its view.
  const buildingOk = startBuilding().then(() => true, (e) => {
    $("zones").textContent = "No building readable on this platform (" + e.message + ")";
    stats.buildingError = e.message;
    return false;
  });
  const homeOk = startHome().then(() => true, (e) => { $("home-note").textContent = "The home view could not read: " + e.message; fail("home", e); return false; });
  const [building, homeRead] = await Promise.all([buildingOk, homeOk]);
  if (!building && homeRead && stats.homeFound) $("tab-home").click();
  stats.ready = true;
}

start().catch((e) => fail("start", e));
