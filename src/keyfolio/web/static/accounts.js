/* keyfolio accounts / health: status per account and source, last sync, last error and
 * its hint; actions: Import Balance toggle, move, sync, rotate key, remove.
 */
(function () {
  "use strict";

  var KF = window.KF;
  var h = KF.h;
  var portfolios = [];

  function $(id) {
    return document.getElementById(id);
  }

  function statusBadge(status) {
    var kind = status === "ok" ? "ok" : status === "partial" || status === "stale" ? "warn"
      : status === "failed" || status === "error" ? "bad" : "info";
    return h("span", { class: "badge badge-" + kind, text: status || "unknown" });
  }

  /** The live engine's state for the account: live, reconnecting, polling, failed, or locked
   * (the vault re-locked: nothing refreshes it until it is unlocked). */
  function streamBadge(stream) {
    if (!stream) return null;
    var kind = stream === "live" ? "ok" : stream === "failed" ? "bad" : "warn";
    var title = stream === "locked" ? "The vault is locked: not refreshed until you unlock it"
      : "Live updates: " + stream;
    return h("span", { class: "badge badge-" + kind + " stream", text: "stream " + stream,
      title: title });
  }

  function sourceLabel(source) {
    return String(source || "").replace(/_/g, " ");
  }

  function field(id, label, type) {
    return h("div", { class: "field" },
      h("label", { for: id, text: label }),
      h("input", { id: id, type: type, required: true, autocomplete: "off", spellcheck: "false" }));
  }

  function sourcesTable(account) {
    var rows = (account.sources || []).map(function (src) {
      var problem = src.error
        ? h("div", null, h("p", { class: "error-message", text: src.error }),
          src.hint ? h("p", { class: "error-hint", text: src.hint }) : null)
        : h("span", { class: "muted", text: "\u2014" });
      return h("tr", null,
        h("th", { scope: "row", text: sourceLabel(src.source) }),
        h("td", null, statusBadge(src.status)),
        h("td", { title: KF.localTime(src.last_ok_at), text: KF.relTime(src.last_ok_at) }),
        h("td", { class: "problem" }, problem));
    });
    if (!rows.length) {
      rows = [h("tr", null, h("td", { colspan: "4", class: "muted", text: "Not synced yet." }))];
    }
    var table = h("table", { class: "table sources" },
      h("thead", null, h("tr", null,
        h("th", { scope: "col", text: "Source" }), h("th", { scope: "col", text: "Status" }),
        h("th", { scope: "col", text: "Last OK" }), h("th", { scope: "col", text: "Problem" }))),
      h("tbody", null));
    rows.forEach(function (row) { table.tBodies[0].appendChild(row); });
    return h("div", { class: "table-wrap" }, table);
  }

  function card(account, index) {
    var prefix = "acct-" + index;
    var errorBox = h("div", { class: "error-box hidden", role: "alert" });
    var fail = function (error) { KF.showError(errorBox, error); };
    var replace = function (updated) {
      // A live refresh may have redrawn the list meanwhile: replace whatever card is shown now.
      var shown = el.isConnected ? el : Array.prototype.filter.call(
        document.querySelectorAll("article.account"),
        function (item) { return item.dataset.account === account.name; })[0];
      if (shown) shown.parentNode.replaceChild(card(updated, index), shown);
    };

    var toggle = h("input", {
      id: prefix + "-import", type: "checkbox", class: "switch", checked: account.import_balance,
    });
    toggle.addEventListener("change", function () {
      var wanted = toggle.checked;
      toggle.disabled = true;
      KF.hideError(errorBox);
      KF.api("PATCH", "/accounts/" + encodeURIComponent(account.name), { import_balance: wanted })
        .then(replace, function (error) {
          toggle.checked = !wanted;
          toggle.disabled = false;
          fail(error);
        });
    });

    var move = h("select", { id: prefix + "-portfolio" });
    var names = portfolios.slice();
    if (names.indexOf(account.portfolio) < 0) names.push(account.portfolio);
    names.forEach(function (name) {
      move.appendChild(h("option", { value: name, text: name, selected: name === account.portfolio }));
    });
    move.addEventListener("change", function () {
      KF.hideError(errorBox);
      KF.api("PATCH", "/accounts/" + encodeURIComponent(account.name), { portfolio: move.value })
        .then(replace, function (error) {
          move.value = account.portfolio;
          fail(error);
        });
    });

    var rotateForm = h("form", { class: "form rotate hidden", method: "post", novalidate: true },
      h("p", { class: "help", text: "Paste a new read-only key for this account. It is checked " +
        "before it replaces the stored one." }),
      field(prefix + "-key", "New API key", "text"),
      field(prefix + "-secret", "New secret key", "password"),
      field(prefix + "-pass", "New passphrase", "password"),
      h("div", { class: "actions" },
        h("button", { type: "submit", class: "primary", text: "Check and save key" }),
        h("button", { type: "button", text: "Cancel", onclick: function () {
          KF.show(rotateForm, false);
        } })));
    rotateForm.addEventListener("submit", function (event) {
      event.preventDefault();
      KF.hideError(errorBox);
      var creds = {
        api_key: $(prefix + "-key").value.trim(),
        secret: $(prefix + "-secret").value.trim(),
        passphrase: $(prefix + "-pass").value,
      };
      if (!creds.api_key || !creds.secret || !creds.passphrase) {
        fail({ message: "Fill in the API key, the secret key and the passphrase.", hint: "" });
        return;
      }
      rotateForm.setAttribute("aria-busy", "true");
      KF.api("PATCH", "/accounts/" + encodeURIComponent(account.name), { credentials: creds })
        .then(replace, function (error) {
          rotateForm.removeAttribute("aria-busy");
          fail(error);
        });
    });

    var removeButton = h("button", { type: "button", class: "danger", text: "Remove" });
    var confirmBox = h("div", { class: "confirm hidden", role: "group",
      "aria-label": "Confirm removal of " + account.name },
      h("span", { text: "Remove " + account.name + " and its stored key?" }),
      h("button", { type: "button", class: "danger", text: "Yes, remove", onclick: function () {
        KF.api("DELETE", "/accounts/" + encodeURIComponent(account.name)).then(function () {
          if (el.isConnected) el.parentNode.removeChild(el);
          if (!document.querySelector(".account")) KF.show($("empty"), true);
        }, fail);
      } }),
      h("button", { type: "button", text: "Keep", onclick: function () {
        KF.show(confirmBox, false);
        KF.show(removeButton, true);
      } }));
    removeButton.addEventListener("click", function () {
      KF.show(removeButton, false);
      KF.show(confirmBox, true);
    });

    var manual = account.exchange === "manual"; // holdings entered by hand: no key, no sync
    var syncButton = manual ? null : h("button", { type: "button", text: "Sync now",
      onclick: function () { startSync([account.name], syncButton); } });
    var rotateButton = manual ? null : h("button", { type: "button", text: "Rotate key",
      onclick: function () { KF.show(rotateForm, rotateForm.classList.contains("hidden")); } });

    var lastError = account.last_error
      ? h("div", { class: "last-error" },
        h("p", { class: "error-message", text: account.last_error }),
        account.last_hint ? h("p", { class: "error-hint", text: account.last_hint }) : null)
      : h("span", { class: "muted", text: "none" });

    var el = h("article", { class: "card account", "data-account": account.name,
      "aria-labelledby": prefix + "-title" },
      h("header", { class: "account-head" },
        h("h2", { id: prefix + "-title", text: account.name }),
        statusBadge(account.status),
        account.demo ? h("span", { class: "badge badge-info", text: "demo" }) : null,
        streamBadge(account.stream),
        account.import_balance ? null : h("span", { class: "badge badge-muted", text: "not counted" })),
      h("p", { class: "muted account-meta", text: [
        manual ? "entered by hand" : String(account.exchange || "").toUpperCase(),
        manual ? null : account.region,
        "portfolio " + account.portfolio, account.key ? "key " + account.key : null,
      ].filter(Boolean).join(" \u00b7 ") }),
      h("dl", { class: "facts" },
        h("dt", { text: "Last sync" }),
        h("dd", { title: KF.localTime(account.last_sync), text: KF.relTime(account.last_sync) }),
        h("dt", { text: "Last error" }), h("dd", null, lastError)),
      sourcesTable(account),
      h("div", { class: "account-actions" },
        h("div", { class: "switch-field" }, toggle,
          h("label", { for: prefix + "-import", text: "Import Balance" })),
        h("div", { class: "field-inline" },
          h("label", { for: prefix + "-portfolio", text: "Move to portfolio" }), move),
        h("div", { class: "buttons" }, syncButton, rotateButton, removeButton, confirmBox)),
      rotateForm,
      errorBox);
    return el;
  }

  function render(accounts) {
    var list = KF.clear($("accounts"));
    KF.show($("empty"), !accounts.length);
    accounts.forEach(function (account, index) { list.appendChild(card(account, index)); });
    document.body.dataset.loaded = "true";
  }

  function load() {
    return Promise.all([
      KF.api("GET", "/accounts"),
      KF.api("GET", "/portfolios").catch(function () { return []; }),
    ]).then(function (results) {
      if (editing()) { // the user opened a form while the request was out: keep their input
        refresh();
        return;
      }
      portfolios = (results[1] || []).map(function (item) { return item.name; });
      KF.notice(null);
      render(results[0] || []);
    }, KF.notice);
  }

  /** A rotate form or a removal confirmation is open: re-rendering would throw it away. */
  function editing() {
    return document.querySelector(".rotate:not(.hidden), .confirm:not(.hidden)") !== null;
  }

  function pollTask(id, button) {
    KF.api("GET", "/tasks/" + encodeURIComponent(id)).then(function (task) {
      var progress = task.progress || {};
      var status = $("sync-status");
      if (task.state === "running") {
        status.textContent = "Syncing\u2026 " + (progress.done || 0) + " of " + (progress.total || "?");
        setTimeout(function () { pollTask(id, button); }, 500);
        return;
      }
      if (button) button.disabled = false;
      status.textContent = task.state === "done" ? "Sync finished." : "Sync failed.";
      if (task.error) KF.notice(task.error);
      load();
    }, function (error) {
      if (button) button.disabled = false;
      KF.notice(error);
    });
  }

  function startSync(names, button) {
    if (button) button.disabled = true;
    $("sync-status").textContent = "Starting sync\u2026";
    KF.api("POST", "/sync", { accounts: names }).then(function (task) {
      pollTask(task.task, button);
    }, function (error) {
      if (button) button.disabled = false;
      $("sync-status").textContent = "";
      KF.notice(error);
    });
  }

  /** Live refresh, postponed while the user is typing a new key or confirming a removal. */
  var refresh = KF.debounce(function again() {
    if (editing()) {
      setTimeout(again, 2000);
      return;
    }
    load();
  }, 100);

  document.addEventListener("DOMContentLoaded", function () {
    $("sync-all").addEventListener("click", function () { startSync(null, $("sync-all")); });
    KF.on("account.status", refresh);
    KF.on("vault.status", refresh);
    KF.on("portfolio.updated", refresh);
    load();
  });
})();
