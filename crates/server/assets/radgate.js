// radgate's own script: live worklist updates. Everything works without it; with it the
// worklist refreshes itself when the server says the work changed (server-sent events),
// here or on another radgate instance on the same database.
(function () {
  "use strict";
  function live() {
    var rows = document.querySelector("[data-live]");
    if (!rows || typeof EventSource === "undefined" || typeof htmx === "undefined") {
      return;
    }
    var source = new EventSource(rows.getAttribute("data-live"));
    source.addEventListener("changed", function () {
      // Looked up each time: a refresh replaces the element.
      var current = document.querySelector("[data-live]");
      if (current) {
        htmx.trigger(current, "refresh");
      }
    });
    window.addEventListener("pagehide", function () {
      source.close();
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", live);
  } else {
    live();
  }
})();
