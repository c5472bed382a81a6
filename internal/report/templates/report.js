(function () {
  "use strict";
  var form = document.getElementById("filters");
  var envs = document.querySelectorAll(".env");
  var rows = document.querySelectorAll("#overview tbody tr");
  var shown = document.getElementById("shown");
  var total = document.querySelectorAll(".result").length;

  function selected(name) {
    var set = {};
    form.querySelectorAll("input[name=" + name + "]:checked").forEach(function (box) { set[box.value] = true; });
    return set;
  }

  // The filters hide the results they leave out, the groups and environments left with none, and the
  // overview's other rows when one environment is chosen.
  function apply() {
    var status = selected("status"), severity = selected("severity"), env = form.elements.environment.value, n = 0;
    envs.forEach(function (e) {
      var mine = env === "" || e.dataset.env === env, any = false;
      e.querySelectorAll(".result").forEach(function (r) {
        var show = mine && status[r.dataset.status || r.parentNode.parentNode.dataset.status] && severity[r.dataset.severity];
        r.hidden = !show;
        if (show) { n++; any = true; }
      });
      e.querySelectorAll(".brief").forEach(function (g) { g.hidden = !g.querySelector(".result:not([hidden])"); });
      e.hidden = !any;
    });
    rows.forEach(function (row) { row.hidden = env !== "" && row.dataset.env !== env; });
    shown.textContent = "Showing " + n + " of " + total + " results";
  }

  if (form) {
    form.addEventListener("change", apply);
    form.addEventListener("reset", function () { setTimeout(apply, 0); });
    form.addEventListener("submit", function (ev) { ev.preventDefault(); });
    form.hidden = false;
  }

  // reveal shows an element of the report: the filters are cleared if they hide it, and every <details> around
  // it, and its own, open.
  function reveal(el) {
    if (form && el.closest("[hidden]")) {
      form.reset();
      apply();
    }
    for (var p = el; p; p = p.parentElement) {
      if (p.tagName === "DETAILS") { p.open = true; }
    }
    var own = el.querySelector("details");
    if (own) { own.open = true; }
  }

  // The heatmap is a grid: one tab stop, arrow keys (Home, End, Page Up and Page Down too) to move, Enter or a
  // click to open the cell's result, which then gets the focus. Without script it stays a table.
  var grid = document.getElementById("grid");
  if (grid) {
    var rules = Array.prototype.map.call(grid.tHead.rows[0].cells, function (th) { return th.dataset.rule; });
    var active = null;
    var data = function (row) { return row && row.parentNode.tagName === "TBODY" && !row.classList.contains("tenant"); };
    var focusable = function (cell) { return cell.tagName === "TH" ? cell.querySelector("a") : cell; };
    var activate = function (cell, focus) {
      var el = focusable(cell);
      if (active) { active.tabIndex = -1; }
      el.tabIndex = 0;
      active = el;
      if (focus) { el.focus(); }
    };
    var step = function (row, dir, count) {
      var found = row;
      for (var r = grid.rows[row.rowIndex + dir]; r && count > 0; r = grid.rows[r.rowIndex + dir]) {
        if (data(r)) { found = r; count--; }
      }
      return found;
    };
    var open = function (td) {
      var anchor = td.parentNode.cells[0].querySelector("a").getAttribute("href").slice(1);
      var target = document.getElementById(anchor + "-" + rules[td.cellIndex]) || document.getElementById(anchor);
      if (!target) { return; }
      reveal(target);
      location.hash = target.id;
      target.scrollIntoView({ block: "center" });
      target.tabIndex = -1;
      target.focus({ preventScroll: true });
    };
    grid.setAttribute("role", "grid");
    grid.querySelectorAll("tbody th a").forEach(function (a) { a.tabIndex = -1; });
    var first = grid.querySelector("tbody td");
    if (first) { activate(first, false); }

    grid.addEventListener("click", function (ev) {
      var link = ev.target.closest("a"), cell = ev.target.closest("td, th");
      if (!cell || !data(cell.parentNode)) { return; }
      activate(cell, false);
      if (link) {
        reveal(document.getElementById(link.getAttribute("href").slice(1)));
      } else {
        open(cell);
      }
    });
    grid.addEventListener("keydown", function (ev) {
      var cell = ev.target.closest("td, th");
      if (!cell || !data(cell.parentNode)) { return; }
      var row = cell.parentNode, col = cell.cellIndex, last = row.cells.length - 1, to = null;
      switch (ev.key) {
      case "ArrowRight": to = row.cells[Math.min(col + 1, last)]; break;
      case "ArrowLeft": to = row.cells[Math.max(col - 1, 0)]; break;
      case "ArrowDown": to = step(row, 1, 1).cells[col]; break;
      case "ArrowUp": to = step(row, -1, 1).cells[col]; break;
      case "PageDown": to = step(row, 1, 10).cells[col]; break;
      case "PageUp": to = step(row, -1, 10).cells[col]; break;
      case "Home": to = ev.ctrlKey ? step(row, -1, Infinity).cells[0] : row.cells[0]; break;
      case "End": to = ev.ctrlKey ? step(row, 1, Infinity).cells[last] : row.cells[last]; break;
      case "Enter":
      case " ":
        if (cell.tagName === "TD") {
          ev.preventDefault();
          open(cell);
        }
        return;
      default:
        return;
      }
      ev.preventDefault();
      activate(to, true);
    });
    // The cell under the pointer or the focus says what it is: environment, rule and status.
    var describe = function (ev) {
      var td = ev.target.closest("td");
      if (td && !td.title && data(td.parentNode)) {
        td.title = td.parentNode.cells[0].textContent + " · " + rules[td.cellIndex] + ": " + td.textContent;
      }
    };
    grid.addEventListener("mouseover", describe);
    grid.addEventListener("focusin", describe);
  }

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
