/* Live room page: server push over Socket.IO with catch-up by sequence number.
   Progressive: without JavaScript the page works (reload shows new signals). No innerHTML: every value from the
   server is set with textContent, so nothing in a signal can run as code. */
(function () {
  "use strict";
  var root = document.getElementById("room");
  if (!root || typeof window.io !== "function") { return; }
  var roomId = root.dataset.room;
  var storageKey = "portal-last-seq:" + roomId;
  var lastSeq = Math.max(parseInt(root.dataset.lastSeq, 10) || 0, parseInt(sessionStorage.getItem(storageKey), 10) || 0);
  var seen = {};
  var pending = [];
  var stateEl = document.getElementById("connection-state");
  var stateText = stateEl.querySelector(".portal-connection__text");
  var banner = document.getElementById("new-signals");
  var showButton = document.getElementById("show-new");
  var list = document.getElementById("signal-list");
  var announcer = document.getElementById("live-announcer");
  var template = document.getElementById("signal-card-template");
  var lang = document.documentElement.lang === "en" ? "en" : "nl";
  // Dates as the server writes them on the cards ("30 augustus 2026", "juli 2026"), not as ISO strings.
  var dayFormat = new Intl.DateTimeFormat(lang, { day: "numeric", month: "long", year: "numeric", timeZone: "UTC" });
  var monthFormat = new Intl.DateTimeFormat(lang, { month: "long", year: "numeric", timeZone: "UTC" });

  Array.prototype.forEach.call(list.querySelectorAll("[data-signal-id]"), function (el) { seen[el.dataset.signalId] = true; });

  function setState(state) {
    stateEl.dataset.state = state;
    stateText.textContent = stateText.dataset["text" + state.charAt(0).toUpperCase() + state.slice(1)];
  }
  function label(term) { return term ? (lang === "en" ? term.label_en : term.label_nl) : ""; }
  function remember(seq) {
    if (seq > lastSeq) { lastSeq = seq; sessionStorage.setItem(storageKey, String(seq)); }
  }
  function when(signal) {
    var day = signal.occurred_on ? new Date(signal.occurred_on + "T00:00:00Z") : new Date(signal.occurred_month + "-01T00:00:00Z");
    if (isNaN(day.getTime())) { return signal.occurred_on || signal.occurred_month || ""; }
    return (signal.occurred_on ? dayFormat : monthFormat).format(day);
  }
  function card(signal) {
    var node = template.content.firstElementChild.cloneNode(true);
    node.dataset.signalId = signal.id;
    var link = node.querySelector("a");
    link.textContent = signal.summary;
    link.href = "/signals/" + encodeURIComponent(signal.id);
    node.querySelector('[data-field="reference"]').textContent = signal.reference;
    var classification = node.querySelector('[data-field="classification"]');
    classification.textContent = signal.classification;
    classification.classList.add("portal-badge--" + String(signal.classification).toLowerCase());
    var severity = node.querySelector('[data-field="severity"]');
    severity.textContent = label(signal.severity);
    if (signal.severity) { severity.classList.add("portal-badge--severity-" + signal.severity.code); }
    node.querySelector('[data-field="category"]').textContent = label(signal.category) + (signal.subcategory ? " · " + label(signal.subcategory) : "");
    var whereEl = node.querySelector('[data-field="where"]');
    var where = signal.district.name;
    if (signal.school) {
      where = signal.school.name;
    } else if (signal.school_sector && whereEl.dataset.templateSector) {  // "a VO school in Almere Stad"
      where = whereEl.dataset.templateSector.replace("{sector}", signal.school_sector).replace("{district}", signal.district.name);
    }
    whereEl.textContent = where + " · " + label(signal.location_type) + " · " + when(signal);
    return node;
  }
  function updateBanner() {
    if (!pending.length) { banner.hidden = true; return; }
    banner.hidden = false;
    showButton.textContent = pending.length === 1 ? showButton.dataset.templateOne : showButton.dataset.templateMany.replace("{n}", pending.length);
  }
  function handle(name, payload) {
    if (!payload || payload.room !== roomId) { return; }
    remember(payload.seq);
    var signal = payload.signal;
    if (name === "signal.created" && !seen[signal.id]) {
      seen[signal.id] = true;
      pending.push(signal);
      updateBanner();
      announcer.textContent = announcer.dataset.template.replace("{summary}", signal.summary);
    } else if (seen[signal.id]) {
      var existing = list.querySelector('[data-signal-id="' + CSS.escape(signal.id) + '"]');
      if (existing && existing.classList.contains("portal-signal--new")) { existing.replaceWith(card(signal)); }
    }
  }
  showButton.addEventListener("click", function () {
    var empty = document.getElementById("no-signals");
    if (empty) { empty.remove(); }
    pending.reverse().forEach(function (signal) { list.insertBefore(card(signal), list.firstChild); });
    pending = [];
    updateBanner();
    var first = list.querySelector("a");
    if (first) { first.focus(); }
  });

  var socket = window.io("/live", {
    transports: ["websocket"],
    reconnectionDelay: 1000 + Math.floor(Math.random() * 1000),  // jitter against reconnect storms
    reconnectionDelayMax: 15000
  });
  function resume() {
    socket.emit("resume", { room: roomId, after: lastSeq }, function (ack) {
      if (ack && ack.error === "not_found") {  // no longer a member of this room: nothing more will come
        socket.disconnect();
        setState("offline");
        return;
      }
      if (!ack || !ack.ok) { return; }
      ack.events.forEach(function (e) { handle(e.event, e); });
      remember(ack.next_after);
      if (ack.more) { resume(); }
    });
  }
  setState("connecting");
  socket.on("connect", function () { setState("online"); resume(); });
  socket.on("disconnect", function (reason) {
    setState("offline");
    // The server disconnects every socket of a user whose rooms changed (a membership revoked elsewhere) so that
    // the new socket's channels are derived afresh; Socket.IO does not reconnect by itself after a server-side
    // disconnect. One attempt: a signed-out or blocked user is refused at connect and stays offline.
    if (reason === "io server disconnect") {
      window.setTimeout(function () { socket.connect(); }, 1000 + Math.floor(Math.random() * 2000));
    }
  });
  socket.on("connect_error", function () { setState("offline"); });
  ["signal.created", "signal.updated", "signal.response", "signal.recognised"].forEach(function (name) {
    socket.on(name, function (payload) { handle(name, payload); });
  });
}());
