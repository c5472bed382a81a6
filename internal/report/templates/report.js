(function () {
  "use strict";
  var form = document.getElementById("filters");
  if (!form) { return; }
  var results = document.querySelectorAll(".result");
  var envs = document.querySelectorAll(".env");
  var rows = document.querySelectorAll("#overview tbody tr");
  var shown = document.getElementById("shown");

  function selected(name) {
    var set = {};
    form.querySelectorAll("input[name=" + name + "]:checked").forEach(function (box) { set[box.value] = true; });
    return set;
  }

  function apply() {
    var status = selected("status"), severity = selected("severity"), env = form.elements.environment.value, n = 0;
    results.forEach(function (r) {
      var show = status[r.dataset.status] && severity[r.dataset.severity] && (env === "" || r.dataset.env === env);
      r.hidden = !show;
      if (show) { n++; }
    });
    envs.forEach(function (e) {
      e.hidden = (env !== "" && e.dataset.env !== env) || !e.querySelector(".result:not([hidden])");
    });
    rows.forEach(function (row) { row.hidden = env !== "" && row.dataset.env !== env; });
    shown.textContent = "Showing " + n + " of " + results.length + " results";
  }

  form.addEventListener("change", apply);
  form.addEventListener("reset", function () { setTimeout(apply, 0); });
  form.addEventListener("submit", function (ev) { ev.preventDefault(); });
  form.hidden = false;

  // Print everything that is not filtered out, collapsed sections included.
  var closed = [];
  window.addEventListener("beforeprint", function () {
    closed = Array.prototype.slice.call(document.querySelectorAll("details:not([open])"));
    closed.forEach(function (d) { d.open = true; });
  });
  window.addEventListener("afterprint", function () {
    closed.forEach(function (d) { d.open = false; });
    closed = [];
  });
}());
