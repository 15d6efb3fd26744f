// socbot console: SLA countdowns and live queues. No framework, no inline script, nothing fetched
// from elsewhere. Server-rendered fragments arrive over server-sent events from the console itself.
(function () {
  "use strict";

  function fmt(ms) {
    var s = Math.floor(Math.abs(ms) / 1000);
    var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60), sec = s % 60;
    if (d > 0) return d + "d " + h + "h";
    if (h > 0) return h + "h " + (m < 10 ? "0" : "") + m + "m";
    return m + "m " + (sec < 10 ? "0" : "") + sec + "s";
  }

  function tick() {
    var now = Date.now();
    var els = document.querySelectorAll("[data-due]");
    for (var i = 0; i < els.length; i++) {
      var due = parseInt(els[i].getAttribute("data-due"), 10);
      if (isNaN(due)) continue;
      var left = due - now;
      els[i].textContent = left >= 0 ? "due in " + fmt(left) : "overdue by " + fmt(left);
      if (left < 0) els[i].classList.add("overdue"); else els[i].classList.remove("overdue");
    }
  }

  function live() {
    var el = document.querySelector("[data-live]");
    if (!el || !window.EventSource) return;
    var src = new EventSource(el.getAttribute("data-live"));
    src.addEventListener("queues", function (ev) {
      // The fragment is HTML rendered and escaped by the console's templates.
      el.innerHTML = ev.data;
      el.setAttribute("data-updated", String(Date.now()));
      tick();
    });
  }

  function switcher() {
    var sel = document.getElementById("tenant-switch");
    if (sel && sel.form) sel.addEventListener("change", function () { sel.form.submit(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    tick();
    setInterval(tick, 1000);
    live();
    switcher();
  });
})();
