/* Live marker for overviews across rooms (the police overview): counts new signals pushed to this user's sockets
   and offers a reload. The socket channels are chosen by the server; nothing here names a room. */
(function () {
  "use strict";
  var root = document.getElementById("overview-live");
  if (!root || typeof window.io !== "function") { return; }
  var banner = document.getElementById("overview-new");
  var link = banner.querySelector("a");
  var seen = {};
  var count = 0;
  var socket = window.io("/live", { transports: ["websocket"], reconnectionDelay: 1000 + Math.floor(Math.random() * 1000) });
  socket.on("signal.created", function (payload) {
    if (!payload || !payload.signal || seen[payload.signal.id]) { return; }
    seen[payload.signal.id] = true;
    count += 1;
    link.textContent = count === 1 ? link.dataset.templateOne : link.dataset.templateMany.replace("{n}", count);
    banner.hidden = false;
  });
}());
