/* Live meeting pages: the agenda follows changes by others without reloading, and the minutes page shows who else
   is editing. The server joins this socket to the meeting's channel only after checking the room membership
   ("meeting.watch"); the page never names a channel. Every value from the server is set with textContent. */
(function () {
  "use strict";
  var list = document.getElementById("agenda-list");
  var root = list || document.getElementById("meeting-live");
  if (!root || typeof window.io !== "function") { return; }
  var meetingId = root.dataset.meeting;
  var editing = root.dataset.editing === "true";
  var me = root.dataset.me || "";
  var lang = document.documentElement.lang === "en" ? "en" : "nl";
  var stateEl = document.getElementById("connection-state");
  var announcer = document.getElementById("agenda-announcer");

  function setState(state) {
    if (!stateEl) { return; }
    var text = stateEl.querySelector(".portal-connection__text");
    stateEl.dataset.state = state;
    text.textContent = text.dataset["text" + state.charAt(0).toUpperCase() + state.slice(1)];
  }
  function showEditors(editors) {
    var el = document.getElementById("minutes-editors");
    if (!el || !Array.isArray(editors)) { return; }
    var others = editors.filter(function (e) { return e.id !== me; }).map(function (e) { return e.name + " (" + e.organisation + ")"; });
    el.textContent = others.length ? el.dataset.template.replace("{names}", others.join(", ")) : el.dataset.alone;
  }
  function newItem(data) {
    var template = document.getElementById("agenda-item-template");
    var li = template.content.firstElementChild.cloneNode(true);
    li.dataset.itemId = data.id;
    li.id = "item-" + data.id;
    return li;
  }
  function fill(li, data, index) {
    li.dataset.duration = String(data.duration_min);
    li.dataset.accepted = data.accepted ? "true" : "false";
    li.querySelector('[data-field="number"]').textContent = index + 1 + ".";
    li.querySelector('[data-field="title"]').textContent = data.title;
    var kind = li.querySelector('[data-field="kind"]');
    if (kind) { kind.textContent = lang === "en" ? data.kind.label_en : data.kind.label_nl; }
    var duration = li.querySelector('[data-field="duration"]');
    if (duration && duration.dataset.template) { duration.textContent = duration.dataset.template.replace("{n}", String(data.duration_min)); }
    var proposal = li.querySelector('[data-field="proposal"]');
    if (proposal) {
      proposal.hidden = data.accepted;
      proposal.textContent = proposal.dataset.template.replace("{name}", data.proposed_by);
    }
  }
  function applyAgenda(agenda) {
    if (!list) { return; }
    var existing = {};
    Array.prototype.forEach.call(list.querySelectorAll("li[data-item-id]"), function (li) { existing[li.dataset.itemId] = li; });
    var active = document.activeElement;
    agenda.items.forEach(function (data, index) {
      var li = existing[data.id] || newItem(data);
      delete existing[data.id];
      fill(li, data, index);
      list.appendChild(li);  // moves an existing item into its new place
    });
    Object.keys(existing).forEach(function (id) { existing[id].remove(); });
    if (active && document.body.contains(active)) { active.focus(); }
    var empty = document.getElementById("agenda-empty");
    if (empty && agenda.items.length) { empty.remove(); }
    var time = document.getElementById("agenda-time");
    if (time) { time.textContent = time.dataset.template.replace("{total}", agenda.total_min).replace("{planned}", agenda.planned_min); }
    var meter = document.getElementById("agenda-meter");
    if (meter) { meter.value = Math.min(agenda.total_min, agenda.planned_min); meter.textContent = String(agenda.total_min); }
    var over = document.getElementById("agenda-over");
    if (over) { over.classList.toggle("portal-hidden", agenda.total_min <= agenda.planned_min); }
    if (announcer) { announcer.textContent = announcer.dataset.updated; }
    document.dispatchEvent(new CustomEvent("portal:agenda-updated"));
  }

  var socket = window.io("/live", {
    transports: ["websocket"],
    reconnectionDelay: 1000 + Math.floor(Math.random() * 1000),
    reconnectionDelayMax: 15000
  });
  function watch(isEditing) {
    socket.emit("meeting.watch", { meeting: meetingId, editing: isEditing }, function (ack) {
      if (ack && ack.ok) { showEditors(ack.editors); }
    });
  }
  setState("connecting");
  socket.on("connect", function () { setState("online"); watch(editing); });
  socket.on("disconnect", function () { setState("offline"); });
  socket.on("connect_error", function () { setState("offline"); });
  window.setInterval(function () { if (socket.connected) { watch(editing); } }, 30000);
  window.addEventListener("pagehide", function () { if (editing && socket.connected) { watch(false); } });
  socket.on("meeting.agenda", function (payload) { if (payload && payload.meeting === meetingId) { applyAgenda(payload); } });
  socket.on("meeting.presence", function (payload) { if (payload && payload.meeting === meetingId) { showEditors(payload.editors); } });
  socket.on("meeting.minutes", function (payload) {
    var base = document.getElementById("minutes-base-version");
    var notice = document.getElementById("minutes-newer");
    if (payload && payload.meeting === meetingId && base && notice && payload.version > (parseInt(base.value, 10) || 0)) {
      notice.hidden = false;
    }
  });
}());
