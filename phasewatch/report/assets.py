"""The report's stylesheet and script, embedded in the page (it must open offline).

The script is small and hand-written: sort the table by a header click (numbers as numbers,
empty cells last), filter rows (and the run cards) by words typed in the box.
"""

CSS = """
body{font:13px/1.4 Helvetica,Arial,"Liberation Sans",sans-serif;margin:18px;color:#111}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:26px 0 6px;border-bottom:1px solid #ddd}
h4{margin:10px 0 4px}.note{color:#555;margin:4px 0}.err{color:#b00020}
.wrap{overflow:auto;max-height:520px;border:1px solid #ddd}
table.sweep{border-collapse:collapse;font-size:12px;white-space:nowrap}
table.sweep th{position:sticky;top:0;background:#f3f3f3;cursor:pointer;user-select:none;
 padding:3px 6px;border-bottom:1px solid #bbb;text-align:left}
table.sweep th.asc:after{content:" \\25B2"}table.sweep th.desc:after{content:" \\25BC"}
table.sweep td{padding:2px 6px;border-bottom:1px solid #eee}table.sweep td.n{text-align:right}
table.sweep tr.bad td{color:#b00020}
/* the run's name stays in view while the table scrolls sideways */
table.sweep td:first-child,table.sweep th:first-child{position:sticky;left:0;z-index:1;
 background:#fff}table.sweep th:first-child{z-index:2;background:#f3f3f3}
#filter{width:320px;padding:4px;margin:6px 0}
.grid{display:flex;flex-wrap:wrap;gap:6px}
.card{display:block;border:1px solid #e3e3e3;text-decoration:none;color:inherit;padding:2px}
.card:hover{border-color:#0072B2}.card .err{width:220px;font-size:11px}
.card .ct{font-size:9px;font-weight:bold;margin:4px 0 0 40px;color:#222}
svg.chart text{font-size:9px;fill:#222}svg.chart text.t{font-weight:bold}
svg.chart text.x{text-anchor:middle}svg.chart text.y{text-anchor:end}
svg.chart text.b{text-anchor:middle;font-size:8px}svg.chart text.n{fill:#888}
svg.chart path.a{stroke:#222;stroke-width:.6;fill:none}
.legend span{margin-right:14px}.legend i{display:inline-block;width:12px;height:3px;
 margin-right:4px;vertical-align:middle}
details.run{border:1px solid #e3e3e3;margin:4px 0;padding:4px 8px}
details.run summary{cursor:pointer;font-weight:bold}details.run small{font-weight:normal;color:#555}
.path{color:#555;font-size:11px}table.ph,table.kv{border-collapse:collapse;font-size:12px}
table.ph td,table.ph th,table.kv td,table.kv th{padding:1px 8px;border-bottom:1px solid #eee;
 text-align:left}
"""

JS = r"""
(function () {
  "use strict";
  var table = document.getElementById("sweep");
  var body = table.tBodies[0];
  function key(cell) {
    var v = cell.getAttribute("data-v");
    if (v === null || v === "") return null;
    var n = Number(v);
    return isNaN(n) ? v.toLowerCase() : n;
  }
  function compare(a, b, dir) {
    if (a === null && b === null) return 0;
    if (a === null) return 1;
    if (b === null) return -1;
    if (typeof a !== typeof b) { a = String(a); b = String(b); }
    return (a < b ? -1 : a > b ? 1 : 0) * dir;
  }
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
    th.addEventListener("click", function () {
      var dir = th.classList.contains("asc") ? -1 : 1;
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) {
        h.classList.remove("asc", "desc");
      });
      th.classList.add(dir === 1 ? "asc" : "desc");
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (r1, r2) {
        return compare(key(r1.cells[col]), key(r2.cells[col]), dir) ||
          (Number(r1.getAttribute("data-run")) - Number(r2.getAttribute("data-run")));
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
  var box = document.getElementById("filter");
  var cards = document.querySelectorAll("#multiples .card");
  box.addEventListener("input", function () {
    var words = box.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = {};
    Array.prototype.forEach.call(body.rows, function (r) {
      var text = r.textContent.toLowerCase();
      var ok = words.every(function (w) { return text.indexOf(w) >= 0; });
      r.style.display = ok ? "" : "none";
      if (ok) shown[r.getAttribute("data-run")] = true;
    });
    Array.prototype.forEach.call(cards, function (c) {
      c.style.display = shown[c.getAttribute("data-run")] ? "" : "none";
    });
    document.getElementById("count").textContent = Object.keys(shown).length;
  });
  function openTarget() {
    var el = location.hash && document.getElementById(location.hash.slice(1));
    if (el && el.tagName === "DETAILS") el.open = true;
  }
  window.addEventListener("hashchange", openTarget);
  openTarget();
})();
"""
