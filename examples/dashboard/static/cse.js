"use strict";
// A oneM2M client for the page: request primitives over the CSE's WebSocket binding
// (TS-0020, subprotocol oneM2M.json), notifications arriving on the same socket.

function unwrap(pc) {
  // {"m2m:cin": {...}} -> {...}
  if (pc && typeof pc === "object") {
    const keys = Object.keys(pc);
    if (keys.length === 1 && keys[0].includes(":")) return pc[keys[0]];
  }
  return pc;
}

function parseTimestamp(ts) {
  // oneM2M time "20241204T223632,498581" (UTC) -> ms since epoch
  const m = /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)(?:[,.](\d+))?/.exec(ts || "");
  if (!m) return NaN;
  const ms = m[7] ? Number((m[7] + "000").slice(0, 3)) : 0;
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], ms);
}

class Cse {
  constructor(config, onState) {
    this.config = config;
    this.onState = onState;
    this.pending = new Map();
    this.handlers = new Map();
    this.counter = 0;
    this.ws = null;
  }

  open() {
    return new Promise((resolve, reject) => {
      // A browser cannot set Authorization on a WebSocket: RFC 6750's query form.
      const url = this.config.ws.replace(/\/$/, "") + "/?access_token=" + encodeURIComponent(this.config.token);
      const ws = new WebSocket(url, "oneM2M.json");
      this.ws = ws;
      ws.onopen = () => { this.onState(true, "connected to " + this.config.ws + " as " + this.config.originator); resolve(); };
      ws.onerror = () => reject(new Error("the WebSocket to " + this.config.ws + " failed"));
      ws.onclose = (event) => {
        this.onState(false, "disconnected from the CSE (" + (event.code || "") + ")");
        for (const waiting of this.pending.values()) waiting.reject(new Error("the WebSocket closed"));
        this.pending.clear();
      };
      ws.onmessage = (event) => this.message(JSON.parse(event.data));
    });
  }

  request(op, to, extra) {
    const rqi = "dash-" + (++this.counter);
    const primitive = Object.assign({ op: op, to: to, fr: this.config.originator, rqi: rqi, rvi: "3" }, extra || {});
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(rqi);
        reject(new Error("no answer to " + rqi + " (" + to + ") in 20 s"));
      }, 20000);
      this.pending.set(rqi, {
        resolve: (r) => { clearTimeout(timer); resolve(r); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
      this.ws.send(JSON.stringify(primitive));
    });
  }

  async ok(op, to, extra) {
    const response = await this.request(op, to, extra);
    if (response.rsc >= 4000) {
      const why = response.pc && response.pc["m2m:dbg"] ? response.pc["m2m:dbg"] : "";
      const error = new Error("op " + op + " " + to + ": " + response.rsc + " " + why);
      error.rsc = response.rsc;
      throw error;
    }
    return unwrap(response.pc);
  }

  retrieve(to, extra) { return this.ok(2, to, extra); }
  update(to, content) { return this.ok(3, to, { pc: content }); }
  create(to, ty, content) { return this.ok(1, to, { ty: ty, pc: content }); }

  async discover(target, fc) {
    const found = await this.retrieve(target, { fc: Object.assign({ fu: 1 }, fc) });
    const list = Array.isArray(found) ? found : (found && found.uril) || [];
    // A CSE behind an SP-relative target answers relative to itself: put its CSE-ID in front.
    const m = /^(\/[^/]+)\//.exec(target);
    const prefix = target.startsWith("/") && !target.startsWith("//") && m ? m[1] : "";
    return list.map((a) => (prefix && !a.startsWith("/") ? prefix + "/" + a : a));
  }

  // The contentInstances of a container, oldest first (rcn 4: attributes and children).
  async instances(container) {
    const cnt = await this.retrieve(container, { rcn: 4 });
    const children = (cnt && cnt["m2m:cin"]) || [];
    return children.slice().sort((a, b) => (a.ct < b.ct ? -1 : a.ct > b.ct ? 1 : 0));
  }

  // A subscription whose nu is this AE itself: the CSE sends the notifications over this socket.
  // On another CSE (SP-relative target) nu is our SP-relative AE-ID, and the platform relays.
  async subscribe(target, net, handler) {
    const nu = target.startsWith("/") ? this.config.cseId + "/" + this.config.originator : this.config.originator;
    const content = { "m2m:sub": { rn: "dashboard", nu: [nu], enc: { net: [net] }, nct: 1 } };
    let response = await this.request(1, target, { ty: 23, pc: content });
    if (response.rsc === 4105) response = await this.request(2, target + "/dashboard");   // ours, from an earlier load
    if (response.rsc >= 4000) throw new Error("subscribe " + target + ": " + response.rsc + " " + JSON.stringify(response.pc));
    const sub = unwrap(response.pc);
    this.handlers.set(sub.ri, handler);
    return sub;
  }

  message(m) {
    if ("rsc" in m && !("op" in m)) {
      const waiting = this.pending.get(m.rqi);
      if (waiting) { this.pending.delete(m.rqi); waiting.resolve(m); }
      return;
    }
    if (m.op === 5) {
      this.ws.send(JSON.stringify({ rsc: 2000, rqi: m.rqi, rvi: m.rvi || "3", fr: this.config.originator, to: m.fr }));
      const sgn = m.pc && m.pc["m2m:sgn"];
      if (!sgn || sgn.vrq || !sgn.nev || !sgn.nev.rep) return;
      const ri = String(sgn.sur || "").split("/").pop();
      const handler = this.handlers.get(ri);
      if (handler) handler(unwrap(sgn.nev.rep), sgn);
      return;
    }
    this.ws.send(JSON.stringify({ rsc: 4000, rqi: m.rqi, rvi: m.rvi || "3", fr: this.config.originator,
                                   pc: { "m2m:dbg": "the dashboard only takes notifications" } }));
  }
}
