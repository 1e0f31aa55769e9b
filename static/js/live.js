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

  Array.prototype.forEach.call(list.querySelectorAll("[data-signal-id]"), function (el) { seen[el.dataset.signalId] = true; });

  function setState(state) {
    stateEl.dataset.state = state;
    stateText.textContent = stateText.dataset["text" + state.charAt(0).toUpperCase() + state.slice(1)];
  }
  function label(term) { return term ? (lang === "en" ? term.label_en : term.label_nl) : ""; }
  function remember(seq) {
    if (seq > lastSeq) { lastSeq = seq; sessionStorage.setItem(storageKey, String(seq)); }
  }
  function card(signal) {
    var node = template.content.firstElementChild.cloneNode(true);
    node.dataset.signalId = signal.id;
    var link = node.querySelector("a");
    link.textContent = signal.summary;
    link.href = "/signals/" + encodeURIComponent(signal.id);
    node.querySelector('[data-field="reference"]').textContent = signal.reference;
    node.querySelector('[data-field="classification"]').textContent = signal.classification;
    node.querySelector('[data-field="severity"]').textContent = label(signal.severity);
    node.querySelector('[data-field="category"]').textContent = label(signal.category) + (signal.subcategory ? " · " + label(signal.subcategory) : "");
    var where = signal.school ? signal.school.name : signal.district.name;
    node.querySelector('[data-field="where"]').textContent = where + " · " + label(signal.location_type) + " · " + (signal.occurred_on || signal.occurred_month);
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
      if (!ack || !ack.ok) { return; }
      ack.events.forEach(function (e) { handle(e.event, e); });
      remember(ack.next_after);
      if (ack.more) { resume(); }
    });
  }
  setState("connecting");
  socket.on("connect", function () { setState("online"); resume(); });
  socket.on("disconnect", function () { setState("offline"); });
  socket.on("connect_error", function () { setState("offline"); });
  ["signal.created", "signal.updated", "signal.response", "signal.recognised"].forEach(function (name) {
    socket.on(name, function (payload) { handle(name, payload); });
  });
}());
