/* keyfolio: link an exchange (POST /accounts). Failures show the server's hint inline. */
(function () {
  "use strict";

  var KF = window.KF;
  var h = KF.h;

  /** Which field an error code is about, to mark it invalid and focus it. */
  var FIELD_FOR_CODE = {
    wrong_passphrase: "passphrase",
    invalid_signature: "secret",
    invalid_key: "api-key",
    key_refused: "api-key",
    key_not_in_region: "region",
    environment_mismatch: "demo",
    validation: null,
  };

  var REGION_LABELS = {
    global: "Global (www.okx.com)",
    eea: "EEA (my.okx.com / eea.okx.com)",
    us: "US (app.okx.com / us.okx.com)",
  };

  var exchanges = [];

  function $(id) {
    return document.getElementById(id);
  }

  function selected() {
    return exchanges.filter(function (item) { return item.id === $("exchange").value; })[0];
  }

  /** OKX needs a passphrase; most exchanges do not. Unknown: ask for it. */
  function needsPassphrase() {
    var exchange = selected();
    return !exchange || !exchange.credentials || exchange.credentials.indexOf("passphrase") >= 0;
  }

  /** The exchange's own name for a credential ("Secret Key" on Binance), else the default. */
  function label(field, fallback) {
    var exchange = selected();
    return (exchange && exchange.labels && exchange.labels[field]) || fallback;
  }

  /** A multi-line secret (a PEM private key) is pasted into a masked textarea, any other into
   * a password field; the element keeps the id "secret". */
  function fitSecret(multiline) {
    var current = $("secret");
    if ((current.tagName === "TEXTAREA") === multiline) return;
    var common = { id: "secret", name: "secret", required: true, autocomplete: "off",
                   spellcheck: "false", "aria-describedby": multiline ? "secret-help" : null };
    var next = multiline
      ? h("textarea", Object.assign({ rows: 6, class: "secret-text" }, common))
      : h("input", Object.assign({ type: "password" }, common));
    current.parentNode.replaceChild(next, current);
    KF.show($("secret-help"), multiline);
  }

  function fitExchange() {
    var exchange = selected();
    fitSecret(Boolean(exchange && exchange.multiline_secret));
    var isOkx = !exchange || exchange.id === "okx";
    KF.show($("passphrase-field"), needsPassphrase());
    KF.show($("guide-okx"), isOkx);
    KF.show($("guide-generic"), !isOkx);
    var guide = exchange && exchange.key_guide;
    $("guide-generic").textContent = guide ||
      "In the exchange's API settings, create a key with read permission only (no trading, no " +
      "withdrawals), bind it to your IP address if the exchange offers it, and copy its parts " +
      "into this form. keyfolio cannot check this exchange's permissions: make sure yourself.";
    $("guide-exchange").textContent = exchange ? exchange.name || exchange.id : "OKX";
    $("api-key-label").textContent = label("api_key", "API key");
    $("secret-label").textContent = label("secret", "Secret key");
    var regions = (exchange && exchange.regions) || ["global"];
    KF.show($("region-field"), regions.length > 1);
    KF.show($("demo-field"), isOkx);
    if (!isOkx) $("demo").checked = false;
    fillRegions();
  }

  function fillRegions() {
    var select = $("region");
    var current = select.value;
    var exchange = selected();
    if (!exchange || !exchange.regions || !exchange.regions.length) return;
    KF.clear(select);
    exchange.regions.forEach(function (region) {
      select.appendChild(h("option", {
        value: region, text: REGION_LABELS[region] || region, selected: region === current,
      }));
    });
  }

  function loadExchanges() {
    return KF.api("GET", "/exchanges").then(function (items) {
      if (!items || !items.length) return;
      exchanges = items;
      var select = KF.clear($("exchange"));
      items.forEach(function (item) {
        select.appendChild(h("option", { value: item.id, text: item.name || item.id }));
      });
      fitExchange();
    }, function () {});
  }

  function loadPortfolios() {
    var wanted = KF.portfolio();
    return KF.api("GET", "/portfolios").then(function (items) {
      var select = KF.clear($("portfolio"));
      var names = (items || []).map(function (item) { return item.name; });
      if (!names.length) names = ["main"];
      names.forEach(function (name) {
        select.appendChild(h("option", { value: name, text: name, selected: name === wanted }));
      });
    }, function () {});
  }

  function clearInvalid() {
    document.querySelectorAll("#link-form [aria-invalid]").forEach(function (el) {
      el.removeAttribute("aria-invalid");
    });
  }

  function markInvalid(id) {
    var el = $(id);
    if (!el) return;
    el.setAttribute("aria-invalid", "true");
    el.setAttribute("aria-errormessage", "link-error");
  }

  function busy(on) {
    $("link-submit").disabled = on;
    KF.show($("link-busy"), on);
    $("link-form").setAttribute("aria-busy", on ? "true" : "false");
  }

  function body() {
    var apiUrl = $("api-url").value.trim();
    return {
      exchange: $("exchange").value,
      name: $("name").value.trim(),
      region: $("region").value,
      portfolio: $("portfolio").value || "main",
      import_balance: $("import-balance").checked,
      api_url: apiUrl || null,
      demo: $("demo").checked,
      credentials: {
        api_key: $("api-key").value.trim(),
        secret: $("secret").value.trim(),
        passphrase: needsPassphrase() ? $("passphrase").value : null,
      },
    };
  }

  function missing() {
    var names = [];
    var fields = [
      ["name", "Account name"],
      ["api-key", label("api_key", "API key")],
      ["secret", label("secret", "Secret key")],
    ];
    if (needsPassphrase()) fields.push(["passphrase", "Passphrase"]);
    fields.forEach(function (pair) {
      if (!$(pair[0]).value.trim()) {
        names.push(pair[1]);
        markInvalid(pair[0]);
      }
    });
    return names;
  }

  function showResult(result) {
    var account = result.account || {};
    $("result-name").textContent = "\u201c" + (account.name || "") + "\u201d";
    var permissions = result.permissions || [];
    $("result-permissions").textContent = permissions.length
      ? permissions.map(function (p) { return p === "read_only" ? "Read only" : p; }).join(", ")
      : "none reported";
    $("result-verified").textContent = result.verified
      ? "Verified: the key is read-only" + (account.key ? " (" + account.key + ")" : "")
      : "This exchange offers no permission check: make sure the key is read-only";
    var sync = (result.sync && result.sync.status) || account.status || "";
    $("result-sync").textContent = sync === "ok" ? "Balances imported"
      : sync === "partial" ? "Partly imported: some sources failed (see Accounts)"
      : sync === "failed" ? "Failed: see Accounts for the reason" : sync;
    var notes = KF.clear($("result-notes"));
    (result.notes || []).concat(result.warnings || []).forEach(function (note) {
      notes.appendChild(h("li", { text: note }));
    });
    var target = account.portfolio || $("portfolio").value || "main";
    KF.setPortfolio(target);
    $("result-overview").setAttribute("href", "/?portfolio=" + encodeURIComponent(target));
    KF.show($("link-form"), false);
    KF.show($("link-result"), true);
    $("link-result").focus();
  }

  function submit(event) {
    event.preventDefault();
    var errorBox = $("link-error");
    KF.hideError(errorBox);
    clearInvalid();
    var absent = missing();
    if (absent.length) {
      KF.showError(errorBox, {
        code: "missing",
        message: "Fill in: " + absent.join(", ") + ".",
        hint: needsPassphrase()
          ? "All three parts of the key are needed: API key, Secret key and Passphrase."
          : "Both parts of the key are needed: API key and Secret key.",
      });
      return;
    }
    busy(true);
    KF.api("POST", "/accounts", body()).then(function (result) {
      busy(false);
      $("secret").value = "";
      $("passphrase").value = "";
      $("api-key").value = "";
      showResult(result);
      KF.refreshVault();
    }, function (error) {
      busy(false);
      KF.showError(errorBox, error);
      var field = FIELD_FOR_CODE[error.code];
      if (field) {
        markInvalid(field);
        if (field === "demo") $("demo").closest("details").open = true;
        $(field).focus();
      }
      if (error.status === 423) KF.refreshVault().then(showVaultHint);
    });
  }

  function showVaultHint() {
    KF.show($("vault-hint"), document.body.dataset.vault !== "unlocked");
  }

  document.addEventListener("DOMContentLoaded", function () {
    $("link-form").addEventListener("submit", submit);
    $("exchange").addEventListener("change", fitExchange);
    $("link-another").addEventListener("click", function () {
      KF.show($("link-result"), false);
      KF.show($("link-form"), true);
      $("name").value = "";
      $("name").focus();
    });
    Promise.all([loadExchanges(), loadPortfolios(), KF.refreshVault().then(showVaultHint)])
      .then(function () { document.body.dataset.loaded = "true"; });
  });
})();
