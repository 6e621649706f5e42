/* keyfolio overview: the balance check (GET /reconcile) and the P/L unknown-basis flag
 * (GET /pnl), which links to it. Refetched when the portfolio changes and on every
 * portfolio.updated event that is not a price move (prices change neither).
 */
(function () {
  "use strict";

  var KF = window.KF;
  var D = window.KFDec;
  var h = KF.h;

  /* The same words as `keyfolio reconcile` (services/reconcile.py CAUSE_LABEL, CAUSE_TEXT). */
  var CAUSES = {
    no_history: ["No history imported",
      "No trades, transfers or bills of this account are imported yet: sync, or import a CSV " +
      "of older trades"],
    history_before_window: ["History before the window",
      "Held, bought or deposited before the imported history begins (exchange APIs reach back " +
      "a few months), or a deposit the import does not have"],
    unparsed_bill_type: ["An unparsed bill type",
      "Ledger entries of a kind keyfolio does not read: their amounts are left out"],
    earn_interest: ["Earn interest",
      "Rewards credited to an earn position without a bill"],
    missing_outflow: ["An outflow the history lacks",
      "The exchange reports less than the history implies: a withdrawal, fee or transfer out " +
      "that the import does not have"],
  };

  var state = { portfolio: KF.portfolio(), seq: 0 };

  function $(id) {
    return document.getElementById(id);
  }

  function signed(text) {
    var value = D.parse(text);
    if (value === null) return D.DASH;
    return (D.sign(value) > 0 ? "+" : "") + D.amount(text);
  }

  function renderRows(report) {
    var body = KF.clear(document.querySelector("#reconcile-table tbody"));
    var rows = [];
    var total = 0;
    (report.accounts || []).forEach(function (account) {
      (account.assets || []).forEach(function (row) {
        total += 1;
        if (row.cause) rows.push({ account: account.account, row: row });
      });
    });
    $("reconcile-count").textContent = total
      ? (rows.length ? rows.length + " of " + total + " balances not explained" : total + " balances, all explained")
      : "";
    if (!total) {
      body.appendChild(h("tr", null, h("td", { colspan: "6", class: "muted",
        text: "No exchange balances yet: link an exchange and sync." })));
      return;
    }
    if (!rows.length) {
      body.appendChild(h("tr", { class: "explained" }, h("td", { colspan: "6",
        text: "The imported history explains every reported balance." })));
      return;
    }
    rows.forEach(function (item) {
      var row = item.row;
      var down = D.sign(D.parse(row.difference)) < 0;
      body.appendChild(h("tr", { "data-asset": row.asset, "data-account": item.account },
        h("td", { text: item.account }),
        h("th", { scope: "row", text: row.asset }),
        h("td", { class: "num col-rec", text: D.amount(row.reported) }),
        h("td", { class: "num col-rec", text: D.amount(row.implied) }),
        h("td", { class: "num " + (down ? "down" : ""), text: signed(row.difference) }),
        h("td", { class: "cause", "data-cause": row.cause,
          text: (CAUSES[row.cause] || [row.cause])[0], title: (CAUSES[row.cause] || [])[1] || null })));
    });
  }

  function renderFlag(pnl) {
    var flags = (pnl.flags || []).filter(function (flag) { return flag.see; });
    var assets = [];
    flags.forEach(function (flag) {
      if (flag.asset && assets.indexOf(flag.asset) < 0) assets.push(flag.asset);
    });
    KF.show($("basis-flag"), assets.length > 0);
    $("basis-link").textContent = assets.length
      ? "Unknown cost basis: " + assets.join(", ") + " (see the balance check)"
      : "";
  }

  function load() {
    var seq = ++state.seq;
    var query = "?portfolio=" + encodeURIComponent(state.portfolio);
    KF.api("GET", "/reconcile" + query).then(function (report) {
      if (seq === state.seq) renderRows(report);
    }, function () {
      if (seq === state.seq) KF.clear(document.querySelector("#reconcile-table tbody"));
    });
    KF.api("GET", "/pnl" + query).then(function (pnl) {
      if (seq === state.seq) renderFlag(pnl);
    }, function () {
      if (seq === state.seq) KF.show($("basis-flag"), false);
    });
  }

  var refresh = KF.debounce(load, 300);

  document.addEventListener("DOMContentLoaded", function () {
    $("portfolio-select").addEventListener("change", function (event) {
      state.portfolio = event.target.value;
      load();
    });
    KF.on("portfolio.updated", function (data) {
      if (data.reason === "price") return;
      if (!data.portfolio || data.portfolio === state.portfolio) refresh();
    });
    load();
  });
})();
