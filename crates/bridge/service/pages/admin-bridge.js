// KREKI admin: SATUSEHAT transaction log. Calls /api/satusehat/v1 with the operator's token.
(function () {
  "use strict";
  var T = {
    id: { title: "Log transaksi SATUSEHAT", intro: "Masuk dengan KREKI ID (Ops Admin atau System Admin) lalu tempel access token Anda. Token hanya disimpan di memori tab ini.",
          token: "Access token", state: "Status", load: "Muat", replay_dead: "Kirim ulang semua dead letter", case: "Kasus", attempts: "Percobaan",
          error: "Galat terakhir", set_nik: "Simpan NIK & kirim", view: "Lihat", replay: "Kirim ulang", discard: "Buang", done: "Selesai" },
    en: { title: "SATUSEHAT transaction log", intro: "Sign in with KREKI ID (Ops Admin or System Admin) and paste your access token. It stays in this tab's memory only.",
          token: "Access token", state: "State", load: "Load", replay_dead: "Replay all dead letters", case: "Case", attempts: "Attempts",
          error: "Last error", set_nik: "Save NIK & send", view: "View", replay: "Replay", discard: "Discard", done: "Done" }
  };
  var lang = new URLSearchParams(location.search).get("lang") === "en" ? "en" : "id";
  document.documentElement.lang = lang;
  document.querySelectorAll("[data-i18n]").forEach(function (el) { el.textContent = T[lang][el.dataset.i18n]; });
  var $ = function (id) { return document.getElementById(id); };
  var current = null;
  function api(method, path, body) {
    var opts = { method: method, headers: { authorization: "Bearer " + $("token").value, "accept-language": lang } };
    if (body) { opts.headers["content-type"] = "application/json"; opts.body = JSON.stringify(body); }
    return fetch("/api/satusehat/v1" + path, opts).then(function (r) {
      return r.json().then(function (j) { if (!r.ok) { throw new Error((j.error && j.error.code) + ": " + (j.message || "")); } return j; });
    });
  }
  function show(e) { $("msg").textContent = e ? String(e.message || e) : ""; }
  function btn(label, fn) { var b = document.createElement("button"); b.type = "button"; b.textContent = label; b.onclick = fn; return b; }
  function load() {
    var s = $("state").value;
    api("GET", "/jobs?limit=200" + (s ? "&state=" + encodeURIComponent(s) : "")).then(function (j) {
      show(); var rows = $("rows"); rows.textContent = "";
      j.data.forEach(function (job) {
        var tr = document.createElement("tr");
        [job.case_id, job.state, String(job.attempts), job.last_error || ""].forEach(function (t) { var td = document.createElement("td"); td.textContent = t; tr.appendChild(td); });
        var td = document.createElement("td");
        td.appendChild(btn(T[lang].view, function () { detail(job.case_id); }));
        td.appendChild(btn(T[lang].replay, function () { api("POST", "/jobs/" + encodeURIComponent(job.case_id) + "/replay").then(load, show); }));
        td.appendChild(btn(T[lang].discard, function () { api("POST", "/jobs/" + encodeURIComponent(job.case_id) + "/discard").then(load, show); }));
        tr.appendChild(td); rows.appendChild(tr);
      });
    }, show);
  }
  function detail(id) {
    api("GET", "/jobs/" + encodeURIComponent(id)).then(function (j) {
      current = id; $("detail").hidden = false; $("detail-title").textContent = id + " — " + j.data.state;
      $("detail-body").textContent = JSON.stringify(j.data, null, 2);
    }, show);
  }
  $("token-form").onsubmit = function (e) { e.preventDefault(); load(); };
  $("replay-dead").onclick = function () { api("POST", "/jobs/replay", { state: "dead" }).then(load, show); };
  $("nik-form").onsubmit = function (e) {
    e.preventDefault();
    api("PUT", "/jobs/" + encodeURIComponent(current) + "/patient", { nik: $("nik").value }).then(function () { $("nik").value = ""; detail(current); load(); }, show);
  };
})();
