/* Agenda builder: reorder items without reloading. Progressive enhancement of the "up"/"down" buttons, which work
   as plain forms without JavaScript. Adds drag-and-drop and Alt + arrow up/down on an item; each change posts the
   complete new order (JSON, with the CSRF header) and is announced to screen readers. No innerHTML. */
(function () {
  "use strict";
  var list = document.getElementById("agenda-list");
  if (!list || list.dataset.editable !== "true" || !window.fetch) { return; }
  var announcer = document.getElementById("agenda-announcer");
  var dragged = null;

  function items() { return Array.prototype.slice.call(list.querySelectorAll("li[data-item-id]")); }
  function renumber() {
    var all = items();
    all.forEach(function (li, index) {
      var number = li.querySelector('[data-field="number"]');
      if (number) { number.textContent = (index + 1) + "."; }
      var up = li.querySelector('[data-move="up"]');
      var down = li.querySelector('[data-move="down"]');
      if (up) { up.disabled = index === 0; }
      if (down) { down.disabled = index === all.length - 1; }
    });
  }
  function announce(li) {
    if (!announcer) { return; }
    announcer.textContent = announcer.dataset.moved.replace("{n}", String(items().indexOf(li) + 1));
  }
  function save() {
    var order = items().map(function (li) { return li.dataset.itemId; });
    return fetch(list.dataset.orderUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": list.dataset.csrf },
      body: JSON.stringify({ order: order })
    }).then(function (response) {
      if (!response.ok) { window.location.reload(); }  // refused (e.g. the agenda was finalised meanwhile)
    }, function () { window.location.reload(); });
  }
  function move(li, delta) {
    var all = items();
    var index = all.indexOf(li);
    var target = index + delta;
    if (target < 0 || target >= all.length) { return false; }
    if (delta < 0) { list.insertBefore(li, all[target]); } else { list.insertBefore(li, all[target].nextSibling); }
    renumber();
    announce(li);
    save();
    return true;
  }
  list.addEventListener("click", function (event) {
    var button = event.target.closest("[data-move]");
    if (!button) { return; }
    event.preventDefault();
    var li = button.closest("li[data-item-id]");
    move(li, button.dataset.move === "up" ? -1 : 1);
    if (button.disabled) {  // at the top or bottom now: keep the focus in the item
      var other = li.querySelector(button.dataset.move === "up" ? '[data-move="down"]' : '[data-move="up"]');
      (other || li).focus();
    } else { button.focus(); }
  });
  list.addEventListener("keydown", function (event) {
    if (!event.altKey || (event.key !== "ArrowUp" && event.key !== "ArrowDown")) { return; }
    var li = event.target.closest("li[data-item-id]");
    if (!li) { return; }
    event.preventDefault();
    var focused = document.activeElement;
    move(li, event.key === "ArrowUp" ? -1 : 1);
    (focused && li.contains(focused) && !focused.disabled ? focused : li).focus();
  });
  items().forEach(function (li) {
    li.draggable = true;
    li.classList.add("portal-agenda__item--draggable");
  });
  list.addEventListener("dragstart", function (event) {
    dragged = event.target.closest("li[data-item-id]");
    if (!dragged) { return; }
    dragged.classList.add("portal-agenda__item--dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", dragged.dataset.itemId);
  });
  list.addEventListener("dragover", function (event) {
    if (!dragged) { return; }
    event.preventDefault();
    var over = event.target.closest("li[data-item-id]");
    if (!over || over === dragged) { return; }
    var box = over.getBoundingClientRect();
    var after = event.clientY > box.top + box.height / 2;
    list.insertBefore(dragged, after ? over.nextSibling : over);
  });
  list.addEventListener("drop", function (event) { if (dragged) { event.preventDefault(); } });
  list.addEventListener("dragend", function () {
    if (!dragged) { return; }
    dragged.classList.remove("portal-agenda__item--dragging");
    renumber();
    announce(dragged);
    dragged = null;
    save();
  });
  document.addEventListener("portal:agenda-updated", renumber);
}());
