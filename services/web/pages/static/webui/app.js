/* A little progressive enhancement; every page works without it. No inline scripts (CSP 'self'). */
(function () {
  "use strict";

  function ru(iso) { var p = iso.split("-"); return p[2] + "." + p[1] + "." + p[0]; }

  // Deadline preview from the production calendar, as the user types the number of working days.
  function deadlinePreview(input) {
    var out = document.querySelector(input.getAttribute("data-deadline-preview"));
    var start = input.getAttribute("data-start");
    var timer = null, seq = 0;
    function update() {
      var n = parseInt(input.value, 10);
      if (!(n >= 1 && n <= 60)) { out.textContent = "Укажите число рабочих дней от 1 до 60."; return; }
      var mine = ++seq;
      fetch("/api/v1/calendar/working-days?start=" + encodeURIComponent(start) + "&add=" + n,
            {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (body) {
          if (mine !== seq) { return; }
          out.textContent = "Срок при направлении сегодня: " + ru(body.date) + ". " + body.explanation;
        })
        .catch(function () { if (mine === seq) { out.textContent = "Не удалось рассчитать срок; он будет рассчитан при отправке."; } });
    }
    input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(update, 250); });
  }

  // Form builder: add a field row without a round trip (the button still works without JS).
  function builder(button) {
    var box = document.getElementById("builder");
    var tpl = document.getElementById("builder-template");
    if (!box || !tpl) { return; }
    button.addEventListener("click", function (ev) {
      ev.preventDefault();
      var index = box.querySelectorAll(".builder-row").length;
      var html = tpl.innerHTML.replace(/f-999-/g, "f-" + index + "-").replace(/Поле 1000/g, "Поле " + (index + 1));
      var holder = document.createElement("div");
      holder.innerHTML = html;
      var row = holder.firstElementChild;
      box.appendChild(row);
      var first = row.querySelector("input, select");
      if (first) { first.focus(); }
    });
  }

  // A field tied to an indicator must be a number: pick "decimal" when an indicator is chosen.
  function indicatorPicks() {
    document.addEventListener("change", function (ev) {
      var el = ev.target;
      var m = el.id && el.id.match(/^f-(\d+)-indicator$/);
      if (m && el.value) {
        var type = document.getElementById("f-" + m[1] + "-type");
        if (type && type.value !== "integer") { type.value = "decimal"; }
      }
    });
  }

  // Changed cells in the amendment editor are marked, so the change set is visible before saving.
  function markChanged() {
    var inputs = document.querySelectorAll("table.editor input[data-base]");
    function mark(input) {
      var base = input.getAttribute("data-base");
      var v = input.value.replace(",", ".").trim();
      var changed = base === "" ? v !== "" : (v === "" || parseFloat(v) !== parseFloat(base));
      input.parentNode.classList.toggle("cell-changed", changed);
      input.setAttribute("aria-description", changed ? "изменено, было " + (base ? base.replace(".", ",") : "пусто") : "");
    }
    Array.prototype.forEach.call(inputs, function (input) {
      mark(input);
      input.addEventListener("input", function () { mark(input); });
    });
  }

  // Irreversible actions (withdraw, accept, publish, adopt, deactivate) ask first: a form with
  // data-confirm="question" is sent only when the person says yes.
  function confirmations() {
    document.addEventListener("submit", function (ev) {
      var form = ev.target;
      var question = form && form.getAttribute && form.getAttribute("data-confirm");
      if (question && !window.confirm(question)) { ev.preventDefault(); ev.stopImmediatePropagation(); }
    }, true);
  }

  confirmations();
  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("[data-deadline-preview]"), deadlinePreview);
    Array.prototype.forEach.call(document.querySelectorAll("[data-add-row]"), builder);
    Array.prototype.forEach.call(document.querySelectorAll("select[data-autosubmit]"), function (s) {
      s.addEventListener("change", function () { s.form.submit(); });
    });
    indicatorPicks();
    markChanged();
  });
})();
