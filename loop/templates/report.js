// The attempts table of a ratchet report: filters, search and paging over column-wise data.
// Only one page of rows is ever in the DOM, so 100,000 attempts stay responsive.
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("report-data").textContent);
  var C = D.cols, N = C.rd.length, S = D.strings, T = D.theorems;
  var PHASES = D.phases, VERDICTS = D.verdicts, RUNS = D.runs;
  var PAGE = 50;
  var multiRun = RUNS.length > 1;
  var $ = function (id) { return document.getElementById(id); };

  var state = { mode: "attempts", page: 0, matches: [], theoremRows: [], open: {} };
  var thLower = T.map(function (t) { return (t[1] + " " + t[2] + " " + t[4]).toLowerCase(); });
  var thIdLower = T.map(function (t) { return t[1].toLowerCase(); });
  var strLower = null;  // lower-cased proofs and messages, built on the first text search

  function uniqueSorted(values) {
    var seen = {}, out = [];
    for (var i = 0; i < values.length; i++) {
      if (!(values[i] in seen)) { seen[values[i]] = 1; out.push(values[i]); }
    }
    return out.sort(function (a, b) { return a < b ? -1 : a > b ? 1 : 0; });
  }
  function fill(id, label, values, names) {
    var sel = $(id);
    sel.appendChild(new Option("all " + label, ""));
    values.forEach(function (v, i) { sel.appendChild(new Option(names ? names[i] : String(v), String(v))); });
  }
  var roundSet = {};
  for (var i = 0; i < N; i++) roundSet[C.rd[i]] = 1;
  var rounds = Object.keys(roundSet).map(Number).sort(function (a, b) { return a - b; });
  var families = uniqueSorted(T.map(function (t) { return t[2]; }));
  fill("f-run", "runs", RUNS.map(function (_, i) { return i; }), RUNS);
  if (!multiRun) $("f-run").style.display = "none";
  fill("f-round", "rounds", rounds, rounds.map(function (r) { return "round " + r; }));
  fill("f-phase", "phases", PHASES.map(function (_, i) { return i; }), PHASES);
  fill("f-verdict", "verdicts", VERDICTS.map(function (_, i) { return i; }), VERDICTS);
  fill("f-family", "families", families);

  function num(id) { var v = $(id).value; return v === "" ? -1 : Number(v); }

  // One match table per search word: over theorems (id, family, statement) and over interned strings.
  // A word that is exactly a theorem id matches that theorem only, so searching an id lists its attempts.
  function wordMatchers(words) {
    return words.map(function (w) {
      var exact = thIdLower.indexOf(w) >= 0, th = new Uint8Array(T.length), st = null;
      for (var t = 0; t < T.length; t++) th[t] = exact ? (thIdLower[t] === w ? 1 : 0) : (thLower[t].indexOf(w) >= 0 ? 1 : 0);
      if (!exact) {
        if (!strLower) strLower = S.map(function (s) { return s.toLowerCase(); });
        st = new Uint8Array(S.length);
        for (var s = 0; s < S.length; s++) st[s] = strLower[s].indexOf(w) >= 0 ? 1 : 0;
      }
      return { th: th, st: st };
    });
  }

  function applyFilters() {
    var run = num("f-run"), round = num("f-round"), phase = num("f-phase"), verdict = num("f-verdict");
    var family = $("f-family").value, disagree = $("f-disagree").checked;
    var q = $("search").value.trim().toLowerCase();
    var m = wordMatchers(q ? q.split(/\s+/) : []);
    var out = [];
    for (var i = 0; i < N; i++) {
      if (run >= 0 && C.r[i] !== run) continue;
      if (round >= 0 && C.rd[i] !== round) continue;
      if (phase >= 0 && C.ph[i] !== phase) continue;
      if (verdict >= 0 && C.j[i] !== verdict) continue;
      if (family && T[C.th[i]][2] !== family) continue;
      if (disagree && (C.g[i] < 0 || C.g[i] === C.j[i])) continue;
      var ok = true;
      for (var k = 0; k < m.length; k++) {
        var w = m[k];
        if (!(w.th[C.th[i]] || (w.st && (w.st[C.p[i]] || w.st[C.m[i]])))) { ok = false; break; }
      }
      if (ok) out.push(i);
    }
    state.matches = out;
    state.theoremRows = aggregate(out);
    state.page = 0;
    state.open = {};
    render();
  }

  // The theorem view: one row per theorem among the matching attempts, with its per-round record.
  function aggregate(rows) {
    var by = {}, order = [];
    for (var k = 0; k < rows.length; k++) {
      var i = rows[k], t = C.th[i], a = by[t];
      if (!a) { a = by[t] = { t: t, n: 0, v: 0, rounds: {} }; order.push(t); }
      var r = a.rounds[C.rd[i]] || (a.rounds[C.rd[i]] = [0, 0]);
      a.n++; r[0]++;
      if (C.j[i] === 0) { a.v++; r[1]++; }
    }
    return order.sort(function (x, y) {
      return T[x][0] - T[y][0] || (T[x][1] < T[y][1] ? -1 : T[x][1] > T[y][1] ? 1 : 0);
    }).map(function (t) {
      var a = by[t], rs = Object.keys(a.rounds).map(Number).sort(function (x, y) { return x - y; });
      var first = -1, lost = [];
      rs.forEach(function (r) {
        var proved = a.rounds[r][1] > 0;
        if (proved && first < 0) first = r;
        else if (!proved && first >= 0) lost.push(r);
      });
      a.record = rs.map(function (r) { return "r" + r + " " + a.rounds[r][1] + "/" + a.rounds[r][0]; }).join(" · ");
      a.first = first; a.lost = lost;
      return a;
    });
  }

  function cell(tr, text, cls, title) {
    var td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    td.title = title === undefined ? text : title;
    tr.appendChild(td);
    return td;
  }
  function header(cols) {
    var thead = $("table").tHead;
    thead.textContent = "";
    var tr = thead.insertRow();
    cols.forEach(function (c) {
      var th = document.createElement("th");
      th.textContent = c[0];
      th.style.width = c[1];
      tr.appendChild(th);
    });
  }
  function verdictCell(tr, v) {
    var name = v < 0 ? "-" : VERDICTS[v];
    cell(tr, name, v < 0 ? "v-none" : "v-" + name);
  }

  function renderAttempts(tbody) {
    var cols = [["round", "4em"], ["phase", "4.5em"], ["theorem", "9em"], ["family", "5.5em"], ["#", "2.5em"],
                ["verdict", "5.5em"], ["gate", "5.5em"], ["s", "4em"], ["proof", "auto"], ["message", "auto"]];
    if (multiRun) cols.unshift(["run", "8em"]);
    header(cols);
    var start = state.page * PAGE, rows = state.matches.slice(start, start + PAGE);
    rows.forEach(function (i) {
      var tr = tbody.insertRow(), th = T[C.th[i]];
      tr.className = "row";
      if (multiRun) cell(tr, RUNS[C.r[i]]);
      cell(tr, String(C.rd[i]), "num");
      cell(tr, PHASES[C.ph[i]]);
      cell(tr, th[1]);
      cell(tr, th[2]);
      cell(tr, String(C.s[i]), "num");
      verdictCell(tr, C.j[i]);
      verdictCell(tr, C.g[i]);
      cell(tr, (C.ms[i] / 1000).toFixed(2), "num");
      cell(tr, S[C.p[i]], "code");
      cell(tr, S[C.m[i]]);
      tr.addEventListener("click", function () { toggleDetail(tr, i, cols.length); });
      if (state.open[i]) toggleDetail(tr, i, cols.length);
    });
  }
  function toggleDetail(tr, i, span) {
    var next = tr.nextSibling;
    if (next && next.className === "detail") { next.remove(); delete state.open[i]; return; }
    state.open[i] = 1;
    var d = tr.parentNode.insertRow(tr.sectionRowIndex + 1);
    d.className = "detail";
    var td = document.createElement("td");
    td.colSpan = span;
    var th = T[C.th[i]];
    [["statement (" + th[1] + ", " + th[3] + " pool)", th[4]], ["proof", S[C.p[i]]], ["message", S[C.m[i]] || "(none)"]]
      .forEach(function (part) {
        var b = document.createElement("div");
        b.className = "muted";
        b.textContent = part[0];
        var pre = document.createElement("pre");
        pre.textContent = part[1];
        td.appendChild(b);
        td.appendChild(pre);
      });
    d.appendChild(td);
  }

  function renderTheorems(tbody) {
    var cols = [["theorem", "9em"], ["family", "5.5em"], ["pool", "5em"], ["verified", "6em"],
                ["first proved", "6em"], ["lost in", "5em"], ["verified / attempts per round", "auto"],
                ["statement", "auto"]];
    if (multiRun) cols.unshift(["run", "8em"]);
    header(cols);
    var start = state.page * PAGE;
    state.theoremRows.slice(start, start + PAGE).forEach(function (a) {
      var tr = tbody.insertRow(), th = T[a.t];
      tr.className = "row";
      if (multiRun) cell(tr, RUNS[th[0]]);
      cell(tr, th[1]);
      cell(tr, th[2]);
      cell(tr, th[3]);
      cell(tr, a.v + "/" + a.n, "num");
      cell(tr, a.first < 0 ? "never" : "round " + a.first, a.first < 0 ? "v-none" : "v-verified");
      cell(tr, a.lost.length ? a.lost.join(", ") : "-", a.lost.length ? "v-rejected" : "v-none");
      cell(tr, a.record, "code");
      cell(tr, th[4], "code");
      tr.title = "show the attempts on " + th[1];
      tr.addEventListener("click", function () {
        $("search").value = th[1];
        if (multiRun) $("f-run").value = String(th[0]);
        setMode("attempts");
        applyFilters();
      });
    });
  }

  function render() {
    var tbody = $("table").tBodies[0];
    tbody.textContent = "";
    var total = state.mode === "attempts" ? state.matches.length : state.theoremRows.length;
    var pages = Math.max(1, Math.ceil(total / PAGE));
    state.page = Math.min(state.page, pages - 1);
    if (state.mode === "attempts") renderAttempts(tbody); else renderTheorems(tbody);
    var count = $("count");
    count.dataset.count = String(total);
    count.textContent = state.mode === "attempts"
      ? total.toLocaleString() + " of " + N.toLocaleString() + " attempts"
      : total.toLocaleString() + " theorems (" + state.matches.length.toLocaleString() + " attempts)";
    $("page").textContent = "page " + (state.page + 1) + " of " + pages;
    $("prev").disabled = state.page === 0;
    $("next").disabled = state.page >= pages - 1;
  }

  function setMode(mode) {
    state.mode = mode;
    state.page = 0;
    $("mode-attempts").className = mode === "attempts" ? "on" : "";
    $("mode-theorems").className = mode === "theorems" ? "on" : "";
  }

  var timer = null;
  $("search").addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(applyFilters, N > 20000 ? 200 : 60);  // debounce: typing should not refilter per key
  });
  ["f-run", "f-round", "f-phase", "f-verdict", "f-family", "f-disagree"].forEach(function (id) {
    $(id).addEventListener("change", applyFilters);
  });
  $("prev").addEventListener("click", function () { state.page--; render(); });
  $("next").addEventListener("click", function () { state.page++; render(); });
  $("mode-attempts").addEventListener("click", function () { setMode("attempts"); render(); });
  $("mode-theorems").addEventListener("click", function () { setMode("theorems"); render(); });
  document.addEventListener("keydown", function (e) {
    if (e.key === "/" && document.activeElement !== $("search")) { e.preventDefault(); $("search").focus(); }
  });

  applyFilters();
  window.ratchetReport = { ready: true, attempts: N, theorems: T.length };
})();
