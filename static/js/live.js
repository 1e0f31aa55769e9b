/* Live room page: server push over Socket.IO with catch-up by sequence number.
   Progressive: without JavaScript the page works (reload shows new signals). No innerHTML: every value from the
   server is set with textContent, so nothing in a signal can run as code.

   Sequence rules (tests/realtime/test_gap_client.py follows them in Python, rule for rule). Every event of a room
   carries the room's sequence number `seq`; a user does not see every event (draft, K3, other schools), so the
   numbers a client receives have holes of two kinds: events it may not see, and events that never arrived (a
   worker's link to Redis was down while they were sent). Only `resume` tells the two apart.
   R1 `lastGapFree`: every event up to it has been applied or is one this user may not see. It starts at the page's
      data-last-seq (the page shows everything up to it), or this tab's stored value when that is higher.
   R2 An event (live or in a resume answer) with seq <= lastGapFree, or with a seq already buffered, is a
      duplicate and is dropped.
   R3 Otherwise it is buffered by seq. Buffered events are applied in seq order while the next one is
      lastGapFree + 1, each advancing lastGapFree.
   R4 What stays buffered is behind a hole: the client sends `resume {room, after: lastGapFree}` (one at a time;
      a hole found while one is on its way is resumed right after it).
   R5 A resume answer: its events go through R2 and R3; then lastGapFree = max(lastGapFree, next_after) (the
      server's cursor passes the events the user may not see), buffered events up to it are applied in seq order,
      then R3 again. `more` or a remaining hole: resume again at once.
   R6 Resume also on every (re)connect, when the server reports recovery (`live.status {degraded: false}`), and
      every DEGRADED_RESUME_MS while it reports degraded (`live.status` or the answer's `degraded`): the events
      of an outage may never be followed by one that shows the hole. (Recovery learnt from an answer needs no
      resume: the answer has just caught up.)
   R7 A resume without an answer within RESUME_TIMEOUT_MS, or with an error, is tried again at once if another
      was asked for meanwhile, otherwise after RETRY_MS while a hole remains or the server reports degraded.
   R8 Applying an event deduplicates by signal id: a signal.created for a signal on the page or pending adds
      nothing; a later event for a new card replaces it.
   The degraded banner (#degraded-banner in base.html's live region #live-status) follows the server's state. */
(function () {
  "use strict";
  var root = document.getElementById("room");
  if (!root || typeof window.io !== "function") { return; }
  var roomId = root.dataset.room;
  var storageKey = "portal-last-seq:" + roomId;
  var DEGRADED_RESUME_MS = 10000, RESUME_TIMEOUT_MS = 10000, RETRY_MS = 5000;
  var lastGapFree = Math.max(parseInt(root.dataset.lastSeq, 10) || 0, parseInt(sessionStorage.getItem(storageKey), 10) || 0);
  var buffered = {};  // seq -> event, every seq > lastGapFree + 1 (R3)
  var resuming = false, resumeAgain = false, retryTimer = null, degradedTimer = null, degraded = false;
  var seen = {};
  var pending = [];
  var degradedBanner = document.getElementById("degraded-banner");
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
    if (seq > lastGapFree) { lastGapFree = seq; sessionStorage.setItem(storageKey, String(seq)); }
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
  function apply(name, payload) {  // R8
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
  function take(payload) {  // R2, R3 buffer
    if (!payload || payload.room !== roomId || typeof payload.seq !== "number") { return; }
    if (payload.seq <= lastGapFree || buffered[payload.seq]) { return; }
    buffered[payload.seq] = payload;
  }
  function applyBuffered() {  // R3 (and R5: everything up to lastGapFree first, in order)
    var seqs = Object.keys(buffered).map(Number).sort(function (a, b) { return a - b; });
    seqs.forEach(function (seq) {
      if (seq <= lastGapFree) { apply(buffered[seq].event, buffered[seq]); delete buffered[seq]; }
    });
    while (buffered[lastGapFree + 1]) {
      var next = buffered[lastGapFree + 1];
      delete buffered[lastGapFree + 1];
      apply(next.event, next);
      remember(next.seq);
    }
  }
  function hasHole() { return Object.keys(buffered).length > 0; }
  function receive(name, payload) {  // a live event
    if (payload && typeof payload === "object") { payload.event = name; }
    take(payload);
    applyBuffered();
    if (hasHole()) { resume(); }  // R4
  }
  function setDegraded(flag, fromAnswer) {  // R6 and the banner
    var was = degraded;
    degraded = !!flag;
    if (degradedBanner) {
      degradedBanner.hidden = !degraded;
      var text = degradedBanner.querySelector("p");
      if (degraded && !was && text) { text.textContent = String(text.textContent); }  // announced by #live-status
    }
    if (degraded && !degradedTimer) {
      degradedTimer = window.setInterval(function () { resume(); }, DEGRADED_RESUME_MS);
    } else if (!degraded && degradedTimer) {
      window.clearInterval(degradedTimer);
      degradedTimer = null;
    }
    if (was && !degraded && !fromAnswer) { resume(); }  // an answer has just caught up
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
  function retryLater() {  // R7
    if (retryTimer) { return; }
    retryTimer = window.setTimeout(function () { retryTimer = null; if (hasHole() || degraded) { resume(); } }, RETRY_MS);
  }
  function resume() {
    if (!socket.connected) { return; }  // the connect handler resumes
    if (resuming) { resumeAgain = true; return; }
    resuming = true;
    resumeAgain = false;
    socket.timeout(RESUME_TIMEOUT_MS).emit("resume", { room: roomId, after: lastGapFree }, function (err, ack) {
      resuming = false;
      if (ack && ack.error === "not_found") {  // no longer a member of this room: nothing more will come
        socket.disconnect();
        setState("offline");
        return;
      }
      if (err || !ack || !ack.ok) {
        if (resumeAgain) { resume(); } else { retryLater(); }
        return;
      }
      ack.events.forEach(function (e) { take(e); });  // R5
      remember(ack.next_after);
      applyBuffered();
      if (typeof ack.degraded === "boolean") { setDegraded(ack.degraded, true); }
      if (ack.more || hasHole() || resumeAgain) { resume(); }
    });
  }
  setState("connecting");
  socket.on("connect", function () { setState("online"); resume(); });
  socket.on("disconnect", function (reason) {
    setState("offline");
    resuming = false;  // the connect handler resumes; an answer still on its way is only deduplicated
    // The server disconnects every socket of a user whose rooms changed (a membership revoked elsewhere) so that
    // the new socket's channels are derived afresh; Socket.IO does not reconnect by itself after a server-side
    // disconnect. One attempt: a signed-out or blocked user is refused at connect and stays offline.
    if (reason === "io server disconnect") {
      window.setTimeout(function () { socket.connect(); }, 1000 + Math.floor(Math.random() * 2000));
    }
  });
  socket.on("connect_error", function () { setState("offline"); });
  ["signal.created", "signal.updated", "signal.response", "signal.recognised"].forEach(function (name) {
    socket.on(name, function (payload) { receive(name, payload); });
  });
  socket.on("live.status", function (status) { if (status && typeof status.degraded === "boolean") { setDegraded(status.degraded); } });
}());
