// hotdesk-edge operator console: plain ES module, no framework, no inline
// script (the page's Content-Security-Policy forbids it). Every number the
// page shows comes from the admin API (/api/v1); the API scopes everything
// to the operator's tenants, the page only shows what it is given.

const API = "/api/v1";
const VENDORS = ["yealink", "polycom", "snom"];
const PAGE = 25;

// The signed-in operator and the session's CSRF token: in memory only
// (a reload asks for the password again).
const state = { operator: null, csrf: "", events: null };

// ---------------------------------------------------------------- helpers

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function when(ms) {
  if (!ms) return "never";
  const d = new Date(Number(ms));
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

const enc = encodeURIComponent;
const view = () => document.getElementById("view");

function show(id, text) {
  const el = document.getElementById(id);
  el.textContent = text || "";
  el.hidden = !text;
}

function clearMessages() {
  show("error", "");
  show("notice", "");
}

const notice = (text) => { show("error", ""); show("notice", text); };

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

const EXPLAIN = {
  400: "Refused",
  401: "Not signed in",
  403: "Not allowed",
  404: "Not found",
  409: "Conflict, retry",
  429: "Too many attempts",
  502: "A service behind refused",
  503: "Unavailable, retry",
};

function failed(err) {
  if (err instanceof ApiError) {
    // The session ended (expired, or signed out elsewhere): sign in again.
    if (err.status === 401 && state.operator) signedOut();
    show("notice", "");
    show("error", `${EXPLAIN[err.status] || "Error"} (${err.status}): ${err.message}`);
  } else {
    show("error", `Error: ${err.message}`);
  }
}

async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = state.csrf;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(API + path, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(503, `the console's server cannot be reached (${err.message})`);
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) throw new ApiError(response.status, data.error || response.statusText);
  return data;
}

function query(params) {
  const parts = Object.entries(params).filter(([, v]) => v !== "" && v !== null && v !== undefined);
  return parts.length ? "?" + parts.map(([k, v]) => `${k}=${enc(v)}`).join("&") : "";
}

// Runs an action from a button: disables it meanwhile, shows the outcome.
async function act(button, run) {
  button.disabled = true;
  try {
    await run();
  } catch (err) {
    failed(err);
  } finally {
    button.disabled = false;
  }
}

function field(label, input) {
  return h("label", {}, label, input);
}

function pager(hasPrevious, nextCursor, onFirst, onPrevious, onNext) {
  return h("div", { class: "pager" },
    h("button", { type: "button", disabled: !hasPrevious, onclick: onFirst }, "First page"),
    h("button", { type: "button", id: "previous-page", disabled: !hasPrevious, onclick: onPrevious }, "Previous page"),
    h("button", { type: "button", id: "next-page", disabled: !nextCursor, onclick: onNext }, "Next page"));
}

// A list with cursor paging: keeps the cursors of the pages before.
function cursorList(load) {
  const trail = [];
  let current = "";
  return {
    first() { trail.length = 0; current = ""; return load(current); },
    next(cursor) { trail.push(current); current = cursor; return load(current); },
    previous() { current = trail.pop() || ""; return load(current); },
    reload() { return load(current); },
    get hasPrevious() { return trail.length > 0; },
  };
}

// ---------------------------------------------------------------- live events

function connectEvents() {
  if (state.events) return;
  const live = document.getElementById("live");
  live.hidden = false;
  live.textContent = "Connecting…";
  const source = new EventSource(`${API}/events`);
  state.events = source;
  let lost = false;
  source.addEventListener("open", () => {
    live.textContent = "Live";
    live.classList.add("on");
    // Changes while the stream was down were missed: the page reads again.
    if (lost) document.dispatchEvent(new CustomEvent("binding-change", { detail: { device: null } }));
    lost = false;
  });
  source.addEventListener("error", () => {
    lost = true;
    live.textContent = "Reconnecting…";
    live.classList.remove("on");
  });
  for (const kind of ["login", "logout"]) {
    source.addEventListener(kind, (ev) => {
      const data = JSON.parse(ev.data);
      document.dispatchEvent(new CustomEvent("binding-change", { detail: data }));
    });
  }
}

function disconnectEvents() {
  if (state.events) state.events.close();
  state.events = null;
  document.getElementById("live").hidden = true;
}

// The page listening for changes: one at a time (replaced on navigation).
let onChange = null;
document.addEventListener("binding-change", (ev) => { if (onChange) onChange(ev.detail); });

// ---------------------------------------------------------------- sign-in

function signedIn(started) {
  state.operator = started.operator;
  state.csrf = started.csrf_token;
  const op = started.operator;
  const scope = op.role === "platform_admin" ? "all tenants" : op.tenants.join(", ");
  document.getElementById("whoami").textContent = `${op.name} · ${op.role.replace("_", " ")} · ${scope}`;
  document.getElementById("nav").hidden = false;
  document.getElementById("sign-out").hidden = false;
  connectEvents();
}

function signedOut() {
  state.operator = null;
  state.csrf = "";
  disconnectEvents();
  document.getElementById("whoami").textContent = "";
  document.getElementById("nav").hidden = true;
  document.getElementById("sign-out").hidden = true;
  route(); // shows the sign-in page at #/signin
}

function signInPage() {
  const name = h("input", { id: "name", name: "name", autocomplete: "username", required: true, autofocus: true });
  const password = h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const form = h("form", { class: "stack", id: "sign-in" },
    field("Operator name", name),
    field("Password", password),
    h("button", { type: "submit", class: "primary" }, "Sign in"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const button = form.querySelector("button");
    await act(button, async () => {
      const started = await api("POST", "/session", { name: name.value, password: password.value });
      password.value = "";
      clearMessages();
      signedIn(started);
      location.hash = "#/board";
    });
  });
  return h("div", { class: "signin" }, h("h1", {}, "Sign in"), form);
}

// ---------------------------------------------------------------- the board

function whoCell(session) {
  if (!session) return h("td", { class: "who free" }, "free");
  return h("td", { class: "who" },
    h("a", { href: `#/user/${enc(session.tenant)}/${enc(session.extension)}` },
      `${session.extension} ${session.name}`),
    h("span", { class: "muted" }, ` (${session.tenant})`));
}

function boardRow(d, refresh) {
  const logout = d.session
    ? h("button", {
        type: "button", class: "danger", "data-action": "logout",
        "aria-label": `Force logout of ${d.session.extension} from ${d.device_id}`,
        onclick: (ev) => act(ev.currentTarget, async () => {
          const out = await api("POST", `/devices/${enc(d.device_id)}/logout`);
          notice(out.result === "logged_out"
            ? `${out.ended.extension} ${out.ended.name} logged out of ${d.device_id}`
            : `${d.device_id} was already free`);
          await refresh(d.device_id);
        }),
      }, "Force logout")
    : null;
  return h("tr", { "data-device": d.device_id },
    h("td", {}, h("a", { href: `#/device/${enc(d.device_id)}` }, d.device_id)),
    h("td", {}, d.tenant),
    h("td", {}, `${d.vendor} ${d.model}`),
    whoCell(d.session),
    h("td", { class: "when" }, d.session ? when(d.session.since_unix_ms) : ""),
    h("td", { class: "when" }, d.session && d.session.expires_unix_ms ? when(d.session.expires_unix_ms) : ""),
    h("td", { class: "actions" }, logout));
}

function boardPage() {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  const tenant = h("input", { id: "f-tenant", name: "tenant", value: params.get("tenant") || "", placeholder: "any", size: 10 });
  const user = h("input", { id: "f-user", name: "user", value: params.get("user") || "", placeholder: "tenant/extension", size: 16 });
  const device = h("input", { id: "f-device", name: "device", value: params.get("device") || "", placeholder: "id prefix", size: 10 });
  const status = h("select", { id: "f-state", name: "state" },
    h("option", { value: "" }, "all"), h("option", { value: "bound" }, "in use"), h("option", { value: "idle" }, "free"));
  status.value = params.get("state") || "";
  const form = h("form", { class: "filters", role: "search" },
    field("Tenant", tenant), field("User", user), field("Device", device), field("State", status),
    h("button", { type: "submit", class: "primary" }, "Filter"));
  const body = h("tbody", { id: "board-rows" });
  const table = h("table", { id: "board" },
    h("caption", { class: "muted" }, "Devices and who is on each, live"),
    h("thead", {}, h("tr", {},
      ["Device", "Tenant", "Phone", "Who", "Since", "Expires", ""].map((t) => h("th", { scope: "col" }, t)))),
    body);
  const pagerSlot = h("div");

  // Rows per page: PAGE, or the address's limit (#/board?limit=100).
  const limit = Number(params.get("limit")) || PAGE;
  const filters = () => ({ tenant: tenant.value.trim(), user: user.value.trim(), device: device.value.trim(), state: status.value });
  async function refreshRow(deviceId) {
    const row = body.querySelector(`tr[data-device="${CSS.escape(deviceId)}"]`);
    if (!row) return;
    const page = await api("GET", `/devices${query({ device: deviceId, limit: 1 })}`);
    const found = page.items.find((d) => d.device_id === deviceId);
    if (found) row.replaceWith(boardRow(found, refreshRow));
  }
  const list = cursorList(async (cursor) => {
    const page = await api("GET", `/devices${query({ ...filters(), limit, cursor })}`);
    body.replaceChildren(...page.items.map((d) => boardRow(d, refreshRow)));
    if (!page.items.length) body.append(h("tr", {}, h("td", { colspan: 7, class: "muted" }, "No devices match.")));
    pagerSlot.replaceChildren(pager(list.hasPrevious, page.next_cursor,
      () => list.first().catch(failed), () => list.previous().catch(failed),
      () => list.next(page.next_cursor).catch(failed)));
  });
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    clearMessages();
    history.replaceState(null, "", `#/board${query({ ...filters(), limit: limit === PAGE ? "" : limit })}`);
    list.first().catch(failed);
  });
  onChange = (event) => { (event.device ? refreshRow(event.device) : list.reload()).catch(failed); };
  list.first().catch(failed);
  return h("div", {}, h("h1", {}, "Board"), form, table, pagerSlot);
}

// ---------------------------------------------------------------- one device

function provisioningFacts(p) {
  if (!p) return h("p", { class: "muted" }, "No provisioning state yet (the phone has never fetched a file).");
  return h("dl", { class: "facts", id: "provisioning" },
    h("dt", {}, "State"),
    h("dd", { class: p.provisioned ? "provisioned" : "pending" }, p.provisioned ? "provisioned" : "pending"),
    h("dt", {}, "Generation"), h("dd", {}, `${p.generation} (fetched ${p.fetched_generation})`),
    h("dt", {}, "Last fetch"), h("dd", {}, when(p.fetched_unix_ms)),
    h("dt", {}, "Last push"), h("dd", {}, `${when(p.pushed_unix_ms)} (generation ${p.pushed_generation})`),
    h("dt", {}, "Push outcome"), h("dd", { id: "push-result" }, p.push_result.replace("_", " ")));
}

function devicePage(deviceId) {
  const root = h("div", {}, h("h1", {}, `Device ${deviceId}`), h("p", { class: "muted" }, "Loading…"));
  async function load() {
    const detail = await api("GET", `/devices/${enc(deviceId)}`);
    const d = detail.device;
    const session = d.session;
    const facts = h("dl", { class: "facts" },
      h("dt", {}, "Tenant"), h("dd", {}, d.tenant),
      h("dt", {}, "Phone"), h("dd", {}, `${d.vendor} ${d.model}`),
      h("dt", {}, "Hot desk"), h("dd", {}, d.hotdesk ? "yes" : "no (fixed user)"),
      h("dt", {}, "Who"), h("dd", { class: "who" }, session
        ? h("a", { href: `#/user/${enc(session.tenant)}/${enc(session.extension)}` }, `${session.extension} ${session.name} (${session.tenant})`)
        : h("span", { class: "free" }, "free")),
      h("dt", {}, "Since"), h("dd", {}, session ? when(session.since_unix_ms) : ""));
    const logout = h("button", {
      type: "button", class: "danger", disabled: !session,
      onclick: (ev) => act(ev.currentTarget, async () => {
        const out = await api("POST", `/devices/${enc(deviceId)}/logout`);
        notice(out.result === "logged_out" ? `${out.ended.extension} logged out` : "already free");
        await load();
      }),
    }, "Force logout");
    const resync = h("button", {
      type: "button", id: "resync",
      onclick: (ev) => act(ev.currentTarget, async () => {
        const out = await api("POST", `/devices/${enc(deviceId)}/resync`);
        notice(`Resync: the check-sync push was ${out.result.replace("_", " ")}`);
        await load();
      }),
    }, "Resync");
    const tenant = h("input", { id: "login-tenant", value: d.tenant, required: true, size: 10 });
    const extension = h("input", { id: "login-extension", required: true, inputmode: "numeric", size: 8 });
    const takeover = h("input", { id: "login-takeover", type: "checkbox" });
    const loginForm = h("form", { class: "row", id: "login-form" },
      field("Tenant", tenant), field("Extension", extension),
      h("label", { class: "inline" }, takeover, "take over if in use"),
      h("button", { type: "submit", class: "primary" }, "Log in"));
    loginForm.addEventListener("submit", (ev) => {
      ev.preventDefault();
      act(loginForm.querySelector("button"), async () => {
        const out = await api("POST", `/devices/${enc(deviceId)}/login`,
          { tenant: tenant.value.trim(), extension: extension.value.trim(), takeover: takeover.checked });
        if (out.result === "logged_in" || out.result === "already_logged_in") notice(`Login: ${out.result.replace(/_/g, " ")}`);
        else show("error", `Login refused: ${out.result.replace(/_/g, " ")}`);
        await load();
      });
    });
    root.replaceChildren(
      h("h1", {}, `Device ${deviceId}`), facts,
      h("div", { class: "row" }, logout),
      h("section", { class: "panel" }, h("h2", {}, "Provisioning"), provisioningFacts(detail.provisioning),
        h("p", {}, resync)),
      h("section", { class: "panel" }, h("h2", {}, "Log a user in here"), loginForm));
  }
  onChange = (event) => { if (!event.device || event.device === deviceId) load().catch(failed); };
  load().catch(failed);
  return root;
}

// ---------------------------------------------------------------- phones (provisioning)

function phoneRow(detail, refresh) {
  const d = detail.device;
  const p = detail.provisioning;
  const resync = h("button", {
    type: "button", "data-action": "resync", "aria-label": `Resync ${d.device_id}`,
    onclick: (ev) => act(ev.currentTarget, async () => {
      const out = await api("POST", `/devices/${enc(d.device_id)}/resync`);
      notice(`Resync of ${d.device_id}: the check-sync push was ${out.result.replace("_", " ")}`);
      await refresh(d.device_id);
    }),
  }, "Resync");
  return h("tr", { "data-device": d.device_id },
    h("td", {}, h("a", { href: `#/device/${enc(d.device_id)}` }, d.device_id)),
    h("td", {}, d.tenant),
    h("td", {}, `${d.vendor} ${d.model}`),
    whoCell(d.session),
    p ? h("td", { class: `state ${p.provisioned ? "provisioned" : "pending"}` }, p.provisioned ? "provisioned" : "pending")
      : h("td", { class: "state muted" }, "no file yet"),
    h("td", { class: "when" }, p ? when(p.fetched_unix_ms) : ""),
    h("td", {}, p && p.pushed_unix_ms ? `${when(p.pushed_unix_ms)}: ${p.push_result.replace("_", " ")}` : ""),
    h("td", { class: "actions" }, resync));
}

function phonesPage() {
  const tenant = h("input", { id: "p-tenant", placeholder: "any", size: 10 });
  const device = h("input", { id: "p-device", placeholder: "id prefix", size: 10 });
  const form = h("form", { class: "filters", role: "search" },
    field("Tenant", tenant), field("Device", device),
    h("button", { type: "submit", class: "primary" }, "Filter"));
  const body = h("tbody", { id: "phone-rows" });
  const pagerSlot = h("div");
  async function refreshRow(deviceId) {
    const row = body.querySelector(`tr[data-device="${CSS.escape(deviceId)}"]`);
    if (!row) return;
    const page = await api("GET", `/provisioning${query({ device: deviceId, limit: 1 })}`);
    const found = page.items.find((detail) => detail.device.device_id === deviceId);
    if (found) row.replaceWith(phoneRow(found, refreshRow));
  }
  const list = cursorList(async (cursor) => {
    const page = await api("GET", `/provisioning${query({ tenant: tenant.value.trim(), device: device.value.trim(), limit: PAGE, cursor })}`);
    body.replaceChildren(...page.items.map((detail) => phoneRow(detail, refreshRow)));
    if (!page.items.length) body.append(h("tr", {}, h("td", { colspan: 8, class: "muted" }, "No devices match.")));
    pagerSlot.replaceChildren(pager(list.hasPrevious, page.next_cursor,
      () => list.first().catch(failed), () => list.previous().catch(failed),
      () => list.next(page.next_cursor).catch(failed)));
  });
  form.addEventListener("submit", (ev) => { ev.preventDefault(); clearMessages(); list.first().catch(failed); });
  onChange = (event) => { (event.device ? refreshRow(event.device) : list.reload()).catch(failed); };
  list.first().catch(failed);
  return h("div", {}, h("h1", {}, "Phones"), form,
    h("table", { id: "phones" },
      h("caption", { class: "muted" }, "Provisioned: the phone fetched the file of its current state; pending: not yet since the last change."),
      h("thead", {}, h("tr", {}, ["Device", "Tenant", "Phone", "Who", "Provisioning", "Last fetch", "Last push", ""].map((t) => h("th", { scope: "col" }, t)))),
      body),
    pagerSlot);
}

// ---------------------------------------------------------------- users

function usersPage() {
  const tenant = h("input", { id: "u-tenant", placeholder: "any", size: 10 });
  const extension = h("input", { id: "u-extension", placeholder: "prefix", size: 10 });
  const form = h("form", { class: "filters", role: "search" },
    field("Tenant", tenant), field("Extension", extension),
    h("button", { type: "submit", class: "primary" }, "Filter"));
  const body = h("tbody");
  const pagerSlot = h("div");
  const list = cursorList(async (cursor) => {
    const page = await api("GET", `/users${query({ tenant: tenant.value.trim(), extension: extension.value.trim(), limit: PAGE, cursor })}`);
    body.replaceChildren(...page.items.map((u) => h("tr", {},
      h("td", {}, h("a", { href: `#/user/${enc(u.tenant)}/${enc(u.extension)}` }, u.extension)),
      h("td", {}, u.name), h("td", {}, u.tenant), h("td", {}, u.hotdesk ? "yes" : "no"),
      h("td", {}, u.device ? h("a", { href: `#/device/${enc(u.device)}` }, u.device) : h("span", { class: "free" }, "not logged in")))));
    pagerSlot.replaceChildren(pager(list.hasPrevious, page.next_cursor,
      () => list.first().catch(failed), () => list.previous().catch(failed),
      () => list.next(page.next_cursor).catch(failed)));
  });
  form.addEventListener("submit", (ev) => { ev.preventDefault(); clearMessages(); list.first().catch(failed); });
  list.first().catch(failed);
  return h("div", {}, h("h1", {}, "Users"), form,
    h("table", {}, h("thead", {}, h("tr", {}, ["Extension", "Name", "Tenant", "Hot desk", "Logged in at"].map((t) => h("th", { scope: "col" }, t)))), body),
    pagerSlot);
}

function userPage(tenant, extension) {
  const base = `/users/${enc(tenant)}/${enc(extension)}`;
  const root = h("div", {}, h("h1", {}, `User ${tenant}/${extension}`), h("p", { class: "muted" }, "Loading…"));
  async function load() {
    const u = await api("GET", base);
    const profiles = await api("GET", `${base}/profiles`);
    const logout = h("button", {
      type: "button", class: "danger", disabled: !u.device,
      onclick: (ev) => act(ev.currentTarget, async () => {
        const out = await api("POST", `${base}/logout`);
        notice(out.result === "logged_out" ? `${extension} logged out` : `${extension} was not logged in`);
        await load();
      }),
    }, "Force logout");
    const unlockDevice = h("input", { id: "unlock-device", placeholder: "every device", size: 12 });
    const unlockForm = h("form", { class: "row" }, field("Device (optional)", unlockDevice),
      h("button", { type: "submit" }, "Unlock"));
    unlockForm.addEventListener("submit", (ev) => {
      ev.preventDefault();
      act(unlockForm.querySelector("button"), async () => {
        const body = unlockDevice.value.trim() ? { device_id: unlockDevice.value.trim() } : {};
        const out = await api("POST", `${base}/unlock`, body);
        notice(`Unlocked: ${out.cleared} lock(s) cleared`);
      });
    });
    const pin = h("input", { id: "new-pin", type: "password", inputmode: "numeric", autocomplete: "new-password", required: true, size: 10 });
    const pinForm = h("form", { class: "row", id: "pin-form" }, field("New PIN", pin),
      h("button", { type: "submit" }, "Reset PIN"));
    pinForm.addEventListener("submit", (ev) => {
      ev.preventDefault();
      act(pinForm.querySelector("button"), async () => {
        await api("PUT", `${base}/pin`, { pin: pin.value });
        pin.value = "";
        notice("PIN set");
      });
    });
    const vendor = h("select", { id: "profile-vendor" }, VENDORS.map((v) => h("option", { value: v }, v)));
    const model = h("input", { id: "profile-model", required: true, placeholder: "e.g. T54W", size: 10 });
    const open = h("form", { class: "row" }, field("Vendor", vendor), field("Model", model),
      h("button", { type: "submit" }, "Open editor"));
    open.addEventListener("submit", (ev) => {
      ev.preventDefault();
      location.hash = `#/profile/${enc(tenant)}/${enc(extension)}/${enc(vendor.value)}/${enc(model.value.trim())}`;
    });
    root.replaceChildren(
      h("h1", {}, `${u.extension} ${u.name}`),
      h("dl", { class: "facts" },
        h("dt", {}, "Tenant"), h("dd", {}, u.tenant),
        h("dt", {}, "Hot desk"), h("dd", {}, u.hotdesk ? "yes" : "no"),
        h("dt", {}, "Logged in at"), h("dd", { class: "who" }, u.device
          ? h("a", { href: `#/device/${enc(u.device)}` }, u.device) : h("span", { class: "free" }, "not logged in"))),
      h("div", { class: "row" }, logout),
      h("section", { class: "panel" }, h("h2", {}, "PIN"), unlockForm, h("p"), pinForm),
      h("section", { class: "panel" }, h("h2", {}, "Phone profiles"),
        profiles.items.length
          ? h("ul", { id: "profiles" }, profiles.items.map((p) => h("li", {},
              h("a", { href: `#/profile/${enc(tenant)}/${enc(extension)}/${enc(p.vendor)}/${enc(p.model)}` }, `${p.vendor} ${p.model}`),
              h("span", { class: "muted" }, ` — ${p.keys.length} key(s), ringer ${p.ringer}, changed ${when(p.updated_unix_ms)}`))))
          : h("p", { class: "muted" }, "No profiles yet (one is made from the tenant's default at the first login on a model)."),
        open));
  }
  onChange = (event) => {
    const me = `${tenant}/${extension}`;
    if (!event.device || event.old_user === me || event.new_user === me) load().catch(failed);
  };
  load().catch(failed);
  return root;
}

// ---------------------------------------------------------------- profile editor

function keyRow(key, rows) {
  const kind = h("select", { "aria-label": "Kind" },
    h("option", { value: "blf" }, "busy lamp"), h("option", { value: "speed_dial" }, "speed dial"));
  kind.value = key.kind;
  const value = h("input", { "aria-label": "Extension or number", value: key.value, required: true, size: 16 });
  const label = h("input", { "aria-label": "Label", value: key.label, required: true, size: 18 });
  const tr = h("tr", { class: "key" });
  const move = (delta) => {
    const all = [...rows.children];
    const at = all.indexOf(tr) + delta;
    if (at < 0 || at >= all.length) return;
    if (delta < 0) rows.insertBefore(tr, all[at]); else rows.insertBefore(all[at], tr);
    renumber(rows);
  };
  tr.append(
    h("td", { class: "number" }),
    h("td", {}, kind), h("td", {}, value), h("td", {}, label),
    h("td", { class: "actions" },
      h("button", { type: "button", "aria-label": "Move up", onclick: () => move(-1) }, "↑"), " ",
      h("button", { type: "button", "aria-label": "Move down", onclick: () => move(1) }, "↓"), " ",
      h("button", { type: "button", class: "danger", onclick: () => { tr.remove(); renumber(rows); } }, "Remove")));
  tr.read = () => ({ kind: kind.value, value: value.value.trim(), label: label.value.trim() });
  return tr;
}

function renumber(rows) {
  // Key 1 is always Logout on a logged-in phone: the profile's keys follow.
  [...rows.children].forEach((tr, i) => { tr.querySelector(".number").textContent = String(i + 2); });
}

function profilePage(tenant, extension, vendor, model) {
  const path = `/users/${enc(tenant)}/${enc(extension)}/profiles/${enc(vendor)}/${enc(model)}`;
  const rows = h("tbody", { id: "keys" });
  const ringer = h("select", { id: "ringer" }, [1, 2, 3, 4, 5, 6, 7, 8].map((n) => h("option", { value: n }, `tone ${n}`)));
  const status = h("p", { class: "muted", id: "profile-status" }, "Loading…");
  const fill = (profile) => {
    rows.replaceChildren(...profile.keys.map((k) => keyRow(k, rows)));
    renumber(rows);
    ringer.value = String(profile.ringer || 1);
  };
  const form = h("form", { id: "profile-form" },
    h("table", {},
      h("caption", { class: "muted" }, "Key 1 is Logout on a logged-in phone; these keys follow."),
      h("thead", {}, h("tr", {}, ["Key", "Kind", "Extension or number", "Label", ""].map((t) => h("th", { scope: "col" }, t)))),
      rows),
    h("p", { class: "row" },
      h("button", { type: "button", id: "add-key", onclick: () => {
        const tr = keyRow({ kind: "blf", value: "", label: "" }, rows);
        rows.append(tr);
        renumber(rows);
        tr.querySelector("input").focus();
      } }, "Add key"),
      field("Ringer", ringer)),
    h("p", { class: "row" },
      h("button", { type: "submit", class: "primary" }, "Save"),
      h("button", { type: "button", class: "danger", id: "delete-profile", onclick: (ev) => act(ev.currentTarget, async () => {
        await api("DELETE", path);
        notice("Profile deleted: the tenant's default applies at the next login on this model");
        fill({ keys: [], ringer: 1 });
      }) }, "Delete profile")));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    act(form.querySelector("button[type=submit]"), async () => {
      const saved = await api("PUT", path, { keys: [...rows.children].map((tr) => tr.read()), ringer: Number(ringer.value) });
      fill(saved);
      status.textContent = `Saved ${when(saved.updated_unix_ms)}`;
      notice("Profile saved; a phone the user is on with this model resyncs");
    });
  });
  api("GET", path).then((profile) => {
    fill(profile);
    status.textContent = `Last changed ${when(profile.updated_unix_ms)}`;
  }).catch((err) => {
    if (err instanceof ApiError && err.status === 404 && /profile/.test(err.message)) {
      fill({ keys: [], ringer: 1 });
      status.textContent = "No profile for this model yet: saving creates it.";
    } else {
      failed(err);
    }
  });
  return h("div", {},
    h("h1", {}, `Phone profile: ${tenant}/${extension} on ${vendor} ${model}`),
    h("p", {}, h("a", { href: `#/user/${enc(tenant)}/${enc(extension)}` }, "← back to the user")),
    status, form);
}

// ---------------------------------------------------------------- audit

function auditPage() {
  const inputs = {
    tenant: h("input", { id: "a-tenant", placeholder: "any", size: 10 }),
    user: h("input", { id: "a-user", placeholder: "tenant/extension", size: 14 }),
    device: h("input", { id: "a-device", placeholder: "device id", size: 10 }),
    event: h("input", { id: "a-event", placeholder: "e.g. admin_logout", size: 16 }),
    actor: h("input", { id: "a-actor", placeholder: "contains", size: 14 }),
  };
  const form = h("form", { class: "filters", role: "search" },
    field("Tenant", inputs.tenant), field("User", inputs.user), field("Device", inputs.device),
    field("Event", inputs.event), field("Actor", inputs.actor),
    h("button", { type: "submit", class: "primary" }, "Filter"));
  const body = h("tbody", { id: "audit-rows" });
  const pagerSlot = h("div");
  const filters = () => Object.fromEntries(Object.entries(inputs).map(([k, el]) => [k, el.value.trim()]));
  const list = cursorList(async (cursor) => {
    const page = await api("GET", `/audit${query({ ...filters(), limit: PAGE, cursor })}`);
    body.replaceChildren(...page.items.map((e) => h("tr", {},
      h("td", { class: "when" }, when(e.ts_unix_ms)), h("td", {}, e.event), h("td", {}, e.tenant), h("td", {}, e.actor),
      h("td", {}, Object.entries(e.details).map(([k, v]) => h("span", { class: "detail" }, h("span", { class: "muted" }, `${k}=`), v, " "))))));
    if (!page.items.length) body.append(h("tr", {}, h("td", { colspan: 5, class: "muted" }, "No entries match.")));
    pagerSlot.replaceChildren(pager(list.hasPrevious, page.next_cursor,
      () => list.first().catch(failed), () => list.previous().catch(failed),
      () => list.next(page.next_cursor).catch(failed)));
  });
  form.addEventListener("submit", (ev) => { ev.preventDefault(); clearMessages(); list.first().catch(failed); });
  list.first().catch(failed);
  return h("div", {}, h("h1", {}, "Audit trail"), form,
    h("table", { id: "audit" }, h("thead", {}, h("tr", {}, ["When", "Event", "Tenant", "Actor", "Details"].map((t) => h("th", { scope: "col" }, t)))), body),
    pagerSlot);
}

// ---------------------------------------------------------------- directory import

// A tenant chooser: the operator's tenants, or (a platform admin's, which
// covers every tenant) a tenant id typed in; ``every`` offers "every tenant".
function tenantChooser(id, every = false) {
  const op = state.operator;
  if (op.role === "platform_admin") {
    return h("input", { id, required: !every, placeholder: every ? "every tenant" : "tenant id", size: 12 });
  }
  return h("select", { id }, op.tenants.map((t) => h("option", { value: t }, t)));
}

// Each action's words: in a preview's summary, an outcome's summary, a row.
const CHANGE_WORDS = {
  add: ["to add", "added", "Would add", "Added"],
  change: ["to change", "changed", "Would change", "Changed"],
  remove: ["to remove", "removed", "Would remove", "Removed"],
};

function importOutcome(out, tenant) {
  const count = (action) => out.changes.filter((c) => c.action === action).length;
  const summary = Object.entries(CHANGE_WORDS)
    .map(([action, words]) => `${count(action)} ${words[out.dry_run ? 0 : 1]}`).join(", ");
  const head = out.dry_run
    ? `Preview for ${tenant}: ${summary}. Nothing is written yet; the directory is at version ${out.version}.`
    : `Applied to ${tenant}: ${summary}. The directory is now at version ${out.version}.`;
  const rows = out.changes.map((c) => h("tr", { class: `change-${c.action}`, "data-name": c.name },
    h("td", { class: "action" }, CHANGE_WORDS[c.action][out.dry_run ? 2 : 3]),
    h("td", {}, c.kind), h("td", {}, c.name),
    h("td", {}, c.changes.length ? h("ul", { class: "plain" }, c.changes.map((line) => h("li", {}, line))) : "")));
  return h("section", { class: "panel", id: "import-outcome", "data-dry-run": String(out.dry_run) },
    h("h2", {}, out.dry_run ? "Preview" : "Applied"),
    h("p", { id: "import-summary" }, head),
    out.changes.length
      ? h("table", { id: "import-changes" },
          h("thead", {}, h("tr", {}, ["", "Kind", "Name", "Fields"].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", {}, rows))
      : h("p", { class: "muted" }, "No changes: the directory already holds exactly this."),
    out.sessions_ended.length
      ? h("div", {}, h("h3", {}, out.dry_run ? "Sessions that would end" : "Sessions ended"),
          h("ul", { id: "import-sessions" }, out.sessions_ended.map((s) => h("li", {}, s))))
      : null);
}

function importPage() {
  const mayApply = state.operator.role !== "helpdesk";
  const tenant = tenantChooser("import-tenant");
  const text = h("textarea", {
    id: "import-text", rows: 12, cols: 60, spellcheck: "false", required: true,
    placeholder: "tenants: [...]\nusers: [...]\ndevices: [...]",
  });
  const file = h("input", { id: "import-file", type: "file", accept: ".yaml,.yml,.json,application/json,text/yaml" });
  const outcome = h("div", { id: "import-result" });
  // What was last previewed: Apply sends exactly that, and only that.
  let previewed = null;
  const preview = h("button", { type: "submit", class: "primary", id: "import-preview" }, "Preview changes");
  const apply = h("button", { type: "button", class: "danger", id: "import-apply", disabled: true, hidden: !mayApply }, "Apply");
  const current = () => ({ tenant: tenant.value.trim(), directory: text.value });
  const same = (a, b) => a !== null && a.tenant === b.tenant && a.directory === b.directory;
  const stale = () => { apply.disabled = !same(previewed, current()); };
  text.addEventListener("input", stale);
  tenant.addEventListener("input", stale);
  tenant.addEventListener("change", stale);
  file.addEventListener("change", async () => {
    const chosen = file.files[0];
    if (!chosen) return;
    try {
      text.value = await chosen.text();
      notice(`Loaded ${chosen.name} (${chosen.size} bytes): preview it before applying`);
    } catch (err) {
      failed(err);
    }
    stale();
  });
  const send = async (dryRun, part) => {
    const out = await api("POST", `/tenants/${enc(part.tenant)}/directory${query({ dry_run: dryRun })}`, { directory: part.directory });
    outcome.replaceChildren(importOutcome(out, part.tenant));
    return out;
  };
  const form = h("form", { id: "import-form", class: "stack" },
    field("Tenant", tenant),
    field("The tenant's part of the directory (YAML or JSON, as the directory file)", text),
    field("…or load a file (read here, in the browser)", file),
    h("p", { class: "row" }, preview, apply,
      mayApply ? null : h("span", { class: "muted" }, "A helpdesk may look, not import.")));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    clearMessages();
    const part = current();
    previewed = null;
    stale();
    outcome.replaceChildren();
    act(preview, async () => {
      await send(true, part);
      previewed = part;
      stale();
    });
  });
  apply.addEventListener("click", () => {
    clearMessages();
    const part = previewed;
    if (!same(part, current())) return;
    act(apply, async () => {
      const out = await send(false, part);
      previewed = null;
      notice(`Applied to ${part.tenant}: directory version ${out.version}`);
    }).then(stale);
  });
  return h("div", {}, h("h1", {}, "Directory import"),
    h("p", { class: "muted" },
      "One tenant's part of the directory: its tenant entry, users and devices, and nothing of another tenant's. ",
      "Preview shows what would change; Apply writes exactly what was previewed, in one transaction."),
    h("div", { class: "two-columns" }, form, outcome));
}

// ---------------------------------------------------------------- occupancy

// A datetime-local field's value as Unix milliseconds ("" when empty).
const unixMs = (input) => (input.value ? String(new Date(input.value).getTime()) : "");

function seconds(ms) {
  const s = Math.round(ms / 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${Math.floor(s / 3600)}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}`;
}

function occupancyPage() {
  const inputs = {
    tenant: h("input", { id: "o-tenant", placeholder: "any", size: 10 }),
    user: h("input", { id: "o-user", placeholder: "tenant/extension", size: 14 }),
    device: h("input", { id: "o-device", placeholder: "device id", size: 10 }),
  };
  const since = h("input", { id: "o-since", type: "datetime-local", step: 1 });
  const until = h("input", { id: "o-until", type: "datetime-local", step: 1 });
  const csv = h("a", { id: "csv-link", class: "button", download: "occupancy.csv" }, "Download CSV");
  const form = h("form", { class: "filters", role: "search" },
    field("Tenant", inputs.tenant), field("User", inputs.user), field("Device", inputs.device),
    field("Ended after", since), field("Started before", until),
    h("button", { type: "submit", class: "primary" }, "Filter"), csv);
  const filters = () => ({
    ...Object.fromEntries(Object.entries(inputs).map(([k, el]) => [k, el.value.trim()])),
    since_unix_ms: unixMs(since), until_unix_ms: unixMs(until),
  });
  const body = h("tbody", { id: "occupancy-rows" });
  const pagerSlot = h("div");
  const list = cursorList(async (cursor) => {
    // The export takes the same filters (a GET: the session's cookie is enough).
    csv.setAttribute("href", `${API}/occupancy.csv${query(filters())}`);
    const page = await api("GET", `/occupancy${query({ ...filters(), limit: PAGE, cursor })}`);
    body.replaceChildren(...page.items.map((i) => h("tr", { "data-device": i.device },
      h("td", {}, h("a", { href: `#/user/${enc(i.tenant)}/${enc(i.extension)}` }, `${i.tenant}/${i.extension}`)),
      h("td", {}, h("a", { href: `#/device/${enc(i.device)}` }, i.device),
        i.device_tenant === i.tenant ? null : h("span", { class: "muted" }, ` (${i.device_tenant})`)),
      h("td", { class: "when" }, when(i.from_unix_ms)), h("td", { class: "when" }, when(i.to_unix_ms)),
      h("td", { class: "number" }, seconds(i.to_unix_ms - i.from_unix_ms)), h("td", {}, i.ended_by))));
    if (!page.items.length) body.append(h("tr", {}, h("td", { colspan: 6, class: "muted" }, "No intervals match.")));
    pagerSlot.replaceChildren(pager(list.hasPrevious, page.next_cursor,
      () => list.first().catch(failed), () => list.previous().catch(failed),
      () => list.next(page.next_cursor).catch(failed)));
  });
  form.addEventListener("submit", (ev) => { ev.preventDefault(); clearMessages(); list.first().catch(failed); });
  list.first().catch(failed);
  return h("div", {}, h("h1", {}, "Occupancy"), form,
    h("table", { id: "occupancy" },
      h("caption", { class: "muted" }, "Who sat where, from when to when: closed sessions, newest first."),
      h("thead", {}, h("tr", {}, ["User", "Device", "From", "Until", "Duration", "Ended by"].map((t) => h("th", { scope: "col" }, t)))),
      body),
    pagerSlot);
}

// ---------------------------------------------------------------- webhooks

function lastDelivery(w) {
  if (!w.last_attempt_unix_ms) return h("span", { class: "muted" }, "no delivery yet");
  const ok = w.last_status >= 200 && w.last_status < 300;
  const what = ok ? `delivered (${w.last_status})` : `failed: ${w.last_status ? `HTTP ${w.last_status}` : "no answer"}`;
  return [
    h("span", { class: ok ? "provisioned" : "failed" }, what), ` ${when(w.last_attempt_unix_ms)}`,
    w.last_error && !ok ? h("div", { class: "muted small" }, w.last_error) : null,
  ];
}

// Delete in two steps: the row's Delete asks, Confirm deletes, Cancel keeps it.
function deleteCell(w, reload) {
  const cell = h("td", { class: "actions" });
  const ask = () => {
    const remove = h("button", {
      type: "button", class: "danger", "data-action": "delete", "aria-label": `Delete the webhook to ${w.url}`,
      onclick: () => confirmStep(),
    }, "Delete");
    cell.replaceChildren(remove);
    return remove;
  };
  const confirmStep = () => {
    const confirm = h("button", {
      type: "button", class: "danger", "data-action": "confirm-delete",
      onclick: (ev) => act(ev.currentTarget, async () => {
        await api("DELETE", `/webhooks/${enc(w.id)}`);
        notice(`Webhook to ${w.url} deleted`);
        await reload();
      }),
    }, "Confirm delete");
    const cancel = h("button", { type: "button", "data-action": "cancel", onclick: () => ask().focus() }, "Cancel");
    cell.replaceChildren(h("span", {}, "Delete it? "), confirm, " ", cancel);
    confirm.focus();
  };
  ask();
  return cell;
}

function webhooksPage() {
  if (state.operator.role === "helpdesk") {
    return h("div", {}, h("h1", {}, "Webhooks"),
      h("p", { class: "muted", id: "webhooks-not-yours" }, "Webhooks are a tenant admin's or a platform admin's to see and manage."));
  }
  const isPlatform = state.operator.role === "platform_admin";
  const url = h("input", { id: "w-url", type: "url", required: true, placeholder: "the receiver's https address", size: 40 });
  const tenant = tenantChooser("w-tenant", true);
  const form = h("form", { class: "filters", id: "webhook-form" },
    field("URL", url), field(isPlatform ? "Tenant (empty: every tenant)" : "Tenant", tenant),
    h("button", { type: "submit", class: "primary" }, "Register"));
  const secretSlot = h("div");
  const body = h("tbody", { id: "webhook-rows" });
  async function load() {
    const list = await api("GET", "/webhooks");
    body.replaceChildren(...list.items.map((w) => h("tr", { "data-webhook": w.id },
      h("td", { class: "url" }, w.url), h("td", {}, w.tenant || h("span", { class: "muted" }, "every tenant")),
      h("td", {}, w.operator), h("td", { class: "when" }, when(w.created_unix_ms)),
      h("td", { class: "delivery" }, lastDelivery(w)),
      h("td", { class: "number" }, `${w.delivered} / ${w.failed}`),
      deleteCell(w, load))));
    if (!list.items.length) body.append(h("tr", {}, h("td", { colspan: 7, class: "muted" }, "No webhooks.")));
  }
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    clearMessages();
    act(form.querySelector("button"), async () => {
      const chosen = tenant.value.trim();
      const made = await api("POST", "/webhooks", { url: url.value.trim(), tenant: chosen || null });
      url.value = "";
      const secret = h("input", { id: "webhook-secret", class: "secret", readonly: true, value: made.secret, size: made.secret.length + 2, "aria-label": "Signing secret" });
      secret.addEventListener("focus", () => secret.select());
      const done = h("button", { type: "button", id: "secret-done", onclick: () => secretSlot.replaceChildren() }, "I have copied it");
      secretSlot.replaceChildren(h("section", { class: "panel secret", id: "secret-panel", role: "status" },
        h("h2", {}, "Copy the signing secret now"),
        h("p", {}, `The webhook to ${made.webhook.url} signs each delivery with this secret. `,
          h("strong", {}, "It is shown this once and never again"), ": keep it where the receiver can read it."),
        h("p", { class: "row" }, secret, done)));
      secret.focus();
      await load();
    });
  });
  const refresh = h("button", { type: "button", id: "webhooks-refresh", onclick: (ev) => act(ev.currentTarget, load) }, "Refresh");
  load().catch(failed);
  return h("div", {}, h("h1", {}, "Webhooks"),
    h("p", { class: "muted" }, "Logins and logouts POSTed to another system, signed with the webhook's secret."),
    form, secretSlot,
    h("table", { id: "webhooks" },
      h("thead", {}, h("tr", {}, ["URL", "Tenant", "Registered by", "Created", "Last delivery", "Delivered / failed", ""].map((t) => h("th", { scope: "col" }, t)))),
      body),
    h("p", { class: "row" }, refresh, h("span", { class: "muted" }, "Deliveries happen as logins and logouts do: Refresh shows the latest outcome.")));
}

// ---------------------------------------------------------------- routing

const ROUTES = [
  [/^#\/board(\?.*)?$/, boardPage],
  [/^#\/device\/([^/?]+)$/, devicePage],
  [/^#\/phones$/, phonesPage],
  [/^#\/users$/, usersPage],
  [/^#\/user\/([^/]+)\/([^/]+)$/, userPage],
  [/^#\/profile\/([^/]+)\/([^/]+)\/([^/]+)\/([^/]+)$/, profilePage],
  [/^#\/audit$/, auditPage],
  [/^#\/import$/, importPage],
  [/^#\/occupancy$/, occupancyPage],
  [/^#\/webhooks$/, webhooksPage],
];

function route() {
  onChange = null;
  clearMessages();
  if (!state.operator) {
    if (location.hash !== "#/signin") history.replaceState(null, "", "#/signin");
    view().replaceChildren(signInPage());
    document.title = "Sign in · hotdesk-edge console";
    view().querySelector("input").focus();
    return;
  }
  const hash = location.hash || "#/board";
  for (const [pattern, page] of ROUTES) {
    const match = hash.match(pattern);
    if (!match) continue;
    const args = match.slice(1).filter((a) => a !== undefined && !a.startsWith("?")).map((a) => decodeURIComponent(a));
    view().replaceChildren(page(...args));
    const section = hash.split(/[/?]/)[1];
    for (const a of document.querySelectorAll("#nav a")) {
      const current = a.getAttribute("href").slice(2) === section ||
        (section === "device" && a.getAttribute("href") === "#/board") ||
        (["user", "profile"].includes(section) && a.getAttribute("href") === "#/users");
      if (current) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
    }
    document.title = `${view().querySelector("h1").textContent} · hotdesk-edge console`;
    view().focus();
    return;
  }
  location.hash = "#/board";
}

document.getElementById("sign-out").addEventListener("click", async () => {
  try {
    await api("DELETE", "/session");
  } catch (err) {
    // Signed out either way: the cookie is cleared or was not valid.
  }
  signedOut();
});
window.addEventListener("hashchange", route);
route();
