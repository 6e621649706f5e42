/* keyfolio overview: total and change, value chart, allocation, movers, holdings.
 * Data: GET /summary and GET /history; refetched on every portfolio.updated event.
 */
(function () {
  "use strict";

  var KF = window.KF;
  var D = window.KFDec;
  var h = KF.h;
  var WINDOW_KEY = "keyfolio.window";
  var WINDOWS = ["24h", "7d", "30d", "1y", "all"];
  var ZERO = D.parse("0");

  var state = {
    portfolio: KF.portfolio(),
    window: "24h",
    summary: null,
    series: [],
    expanded: {},
    chart: null,
    seriesSeq: 0,
    summarySeq: 0,
  };

  function $(id) {
    return document.getElementById(id);
  }

  function q(name) {
    return encodeURIComponent(name);
  }

  /* ---- total, change, badges ---- */

  function renderTotal(summary) {
    $("total").textContent = D.usd(summary.total_value);
    var asOf = $("as-of");
    asOf.textContent = summary.as_of ? "Updated " + KF.relTime(summary.as_of) : "Never synced";
    asOf.title = summary.as_of ? KF.localTime(summary.as_of) : "";
    renderChange(summary);
    renderBadges(summary);
    renderStats(summary);
  }

  function renderStats(summary) {
    var accounts = summary.accounts || [];
    var counted = accounts.filter(function (a) { return a.import_balance; }).length;
    $("stat-accounts").textContent = counted === accounts.length
      ? String(accounts.length) : counted + " of " + accounts.length;
    $("stat-accounts").title = counted === accounts.length ? "" : "Import Balance is off for some";
    $("stat-assets").textContent = String((summary.holdings || []).length);
    var sources = [];
    accounts.forEach(function (a) { sources = sources.concat(a.sources || []); });
    var ok = sources.filter(function (src) { return src.status === "ok"; }).length;
    $("stat-sources").textContent = sources.length ? ok + "/" + sources.length : D.DASH;
  }

  /** The change over the window from the value series, when the summary has none for it. */
  function changeFromSeries() {
    var points = state.series;
    if (points.length < 2) return null;
    var first = D.parse(points[0].value);
    var last = D.parse(points[points.length - 1].value);
    if (first === null || last === null) return null;
    var diff = D.sub(last, first);
    var pct = D.sign(first) > 0 ? D.div(D.mul(diff, D.parse("100")), first, 2) : null;
    return { value: D.plain(diff), pct: pct ? D.plain(pct) : null, basis: "history" };
  }

  function renderChange(summary) {
    var el = $("change");
    var change = summary.change && summary.change[state.window];
    if (!change || change.value === null || change.value === undefined) change = changeFromSeries();
    el.classList.remove("up", "down");
    if (!change || change.value === null || change.value === undefined) {
      el.textContent = "No change data for " + state.window + " yet";
      el.classList.add("muted");
      return;
    }
    el.classList.remove("muted");
    var value = D.parse(change.value);
    var direction = value ? D.sign(D.round(value, 2)) : 0;
    if (direction > 0) el.classList.add("up");
    if (direction < 0) el.classList.add("down");
    var text = D.signedUsd(change.value);
    if (change.pct !== null && change.pct !== undefined) text += " (" + D.pct(change.pct) + ")";
    el.textContent = text + " over " + state.window;
    el.title = change.basis === "open24h" ? "From the exchange's 24 h open prices"
      : change.basis === "open_utc" ? "From 24h open prices; Kraken's ticker opens at 00:00 UTC today" : "";
  }

  function badge(kind, text, title) {
    return h("li", { class: "badge badge-" + kind, title: title || null, text: text });
  }

  function renderBadges(summary) {
    var list = KF.clear($("badges"));
    var partial = (summary.accounts || []).filter(function (a) {
      return a.import_balance && (a.status === "partial" || a.status === "failed");
    });
    if (partial.length) {
      list.appendChild(badge("warn", "Partial",
        "Some sources could not be read: " + partial.map(function (a) { return a.name; }).join(", ")));
    }
    var stale = (summary.holdings || []).filter(function (item) { return item.stale; });
    if (stale.length) {
      list.appendChild(badge("warn", "Stale",
        "Last known balances (the latest sync failed) for " +
        stale.map(function (item) { return item.asset; }).join(", ")));
    }
    var oldPrices = summary.stale_prices || [];
    if (oldPrices.length) {
      list.appendChild(badge("warn", oldPrices.length + (oldPrices.length > 1 ? " old prices" : " old price"),
        "Prices older than the max age (KEYFOLIO_PRICE_MAX_AGE_MINUTES): " + oldPrices.join(", ")));
    }
    var par = (summary.holdings || []).filter(function (item) { return item.price_source === "par"; });
    if (par.length) {
      list.appendChild(badge("muted", "At par: " + par.map(function (item) { return item.asset; }).join(", "),
        "Assumed 1:1 with USD: no linked exchange has a market for them, so a depeg would not show"));
    }
    var unpriced = summary.unpriced || [];
    if (unpriced.length) {
      list.appendChild(badge("info", unpriced.length + " unpriced",
        "No USD price, left out of the total: " + unpriced.join(", ")));
    }
    if (document.body.dataset.vault === "locked") {
      list.appendChild(badge("info", "Vault locked", "Showing stored data; unlock to sync"));
    }
  }

  /* ---- allocation ---- */

  function renderAllocation(summary) {
    var priced = (summary.holdings || []).filter(function (item) {
      var value = D.parse(item.value);
      return value !== null && D.sign(value) > 0;
    });
    var total = D.parse(summary.total_value) || ZERO;
    var slices = [];
    var rest = ZERO;
    var max = window.KFCharts.SLICES - 1;
    priced.forEach(function (item, index) {
      if (index < max || priced.length === max + 1) {
        slices.push({ label: item.asset, value: item.value });
      } else {
        rest = D.add(rest, D.parse(item.value));
      }
    });
    if (D.sign(rest) > 0) slices.push({ label: "Other", value: D.plain(rest) });
    slices.forEach(function (slice) {
      var share = D.share(slice.value, D.plain(total), 1);
      slice.share = share ? D.plain(share) : "0";
    });
    var count = priced.length; // the donut shows value: unpriced assets are not in it
    window.KFCharts.donut($("donut"), $("alloc-legend"), slices,
      count === 1 ? "1 asset" : count + " assets");
    if (!slices.length) {
      $("alloc-legend").appendChild(h("li", { class: "muted", text: "Nothing priced yet." }));
    }
  }

  /* ---- movers ---- */

  function renderMovers(summary) {
    var fill = function (id, items, kind) {
      var list = KF.clear($(id));
      if (!items || !items.length) {
        list.appendChild(h("li", { class: "muted empty-row", text: "None" }));
        return;
      }
      items.forEach(function (item) {
        list.appendChild(h("li", null,
          h("span", { class: "mover-asset", text: item.asset }),
          h("span", { class: "mover-pct " + kind, text: D.pct(item.change_pct) }),
          h("span", { class: "mover-value muted", text: D.usd(item.value) })));
      });
    };
    var gainers = summary.top_gainers || [];
    var losers = summary.top_losers || [];
    var first = gainers[0] || losers[0];
    $("movers-window").textContent = first && first.window ? first.window : "24h";
    fill("gainers", gainers, "up");
    fill("losers", losers, "down");
  }

  /* ---- holdings ---- */

  function sourceLabel(source) {
    return String(source || "").replace(/_/g, " ");
  }

  function changeCell(value, basis) {
    var parsed = D.parse(value);
    var cls = "num col-24h";
    if (parsed && D.sign(D.round(parsed, 2)) > 0) cls += " up";
    if (parsed && D.sign(D.round(parsed, 2)) < 0) cls += " down";
    var title = basis === "utc_day" ? "Since today's open at 00:00 UTC (Kraken's ticker)" : null;
    return h("td", { class: cls, text: D.pct(value), title: title });
  }

  function holdingRows(item, index, total) {
    var id = "holding-" + index;
    var open = !!state.expanded[item.asset];
    var toggle = h("button", {
      type: "button",
      class: "expander",
      "aria-expanded": open ? "true" : "false",
      "aria-controls": id,
      "aria-label": "Show where " + item.asset + " is held",
      onclick: function () {
        state.expanded[item.asset] = !state.expanded[item.asset];
        toggle.setAttribute("aria-expanded", state.expanded[item.asset] ? "true" : "false");
        KF.show(detail, state.expanded[item.asset]);
      },
    });
    var marks = h("span", { class: "marks" },
      item.price === null ? h("span", { class: "badge badge-info", text: "unpriced" }) : null,
      item.stale ? h("span", { class: "badge badge-warn", text: "stale" }) : null,
      item.price_source === "par" ? h("span", {
        class: "badge badge-muted", text: "par",
        title: "Assumed 1:1 with USD: no linked exchange has a market for " + item.asset,
      }) : null,
      item.price_stale ? h("span", {
        class: "badge badge-warn", text: "old price",
        title: "Price from " + KF.localTime(item.price_as_of) + ": older than the price max age",
      }) : null);
    var priceTitle = item.price_source
      ? item.price_source + (item.price_as_of ? " \u00b7 " + KF.localTime(item.price_as_of) : "")
      : null;
    var share = D.share(item.value, total, 1);
    var row = h("tr", { class: "holding", "data-asset": item.asset },
      h("th", { scope: "row" }, toggle, h("span", { class: "asset", text: item.asset }), marks),
      h("td", { class: "num", text: D.amount(item.amount) }),
      h("td", { class: "num col-price", text: D.price(item.price), title: priceTitle }),
      h("td", { class: "num", text: D.usd(item.value) }),
      h("td", { class: "num col-share", text: share ? D.fixed(share, 1, false) + "%" : D.DASH }),
      changeCell(item.change_24h_pct, item.change_24h_basis));
    var list = h("ul", { class: "source-list" });
    (item.sources || []).forEach(function (src) {
      var price = D.parse(item.price);
      var amount = D.parse(src.amount);
      var value = price && amount ? D.usd(D.plain(D.mul(price, amount))) : D.DASH;
      list.appendChild(h("li", null,
        h("span", { class: "src-where", text: src.account + " \u00b7 " + sourceLabel(src.source) }),
        h("span", { class: "src-amount num", text: D.amount(src.amount) + " " + item.asset }),
        h("span", { class: "src-value num muted", text: value })));
    });
    var detail = h("tr", { class: "detail" + (open ? "" : " hidden"), id: id },
      h("td", { colspan: "6" }, list));
    return [row, detail];
  }

  function renderHoldings(summary) {
    var body = KF.clear(document.querySelector("#holdings tbody"));
    var holdings = summary.holdings || [];
    if (!holdings.length) {
      body.appendChild(h("tr", null, h("td", { colspan: "6", class: "muted", text: "No holdings." })));
      return;
    }
    holdings.forEach(function (item, index) {
      holdingRows(item, index, summary.total_value).forEach(function (row) { body.appendChild(row); });
    });
  }

  /* ---- data ---- */

  function render(summary) {
    state.summary = summary;
    var empty = !(summary.accounts || []).length;
    KF.show($("empty"), empty);
    document.querySelector(".grid.overview").classList.toggle("is-empty", empty);
    renderTotal(summary);
    renderAllocation(summary);
    renderMovers(summary);
    renderHoldings(summary);
    document.body.dataset.loaded = "true";
  }

  function loadSummary() {
    var seq = ++state.summarySeq;
    return KF.api("GET", "/portfolios/" + q(state.portfolio) + "/summary").then(
      function (summary) {
        if (seq !== state.summarySeq) return;
        KF.notice(null);
        render(summary);
      },
      function (error) {
        if (seq !== state.summarySeq) return;
        if (error.status === 404 && state.portfolio !== "main") {
          state.portfolio = "main";
          KF.setPortfolio("main");
          return loadSummary();
        }
        KF.notice(error);
      }
    );
  }

  function loadSeries() {
    var seq = ++state.seriesSeq;
    var path = "/history?portfolio=" + q(state.portfolio) + "&window=" + q(state.window);
    return KF.api("GET", path).then(
      function (series) {
        if (seq !== state.seriesSeq) return;
        var points = (series && series.points) || [];
        state.series = points;
        KF.show($("chart-empty"), points.length < 2);
        state.chart.update(points);
        if (state.summary) renderChange(state.summary);
      },
      function () {
        if (seq !== state.seriesSeq) return;
        state.series = [];
        KF.show($("chart-empty"), true);
        state.chart.update([]);
      }
    );
  }

  function loadPortfolios() {
    return KF.api("GET", "/portfolios").then(function (items) {
      var select = KF.clear($("portfolio-select"));
      var names = (items || []).map(function (item) { return item.name; });
      if (names.indexOf(state.portfolio) < 0) names.push(state.portfolio);
      names.forEach(function (name) {
        select.appendChild(h("option", { value: name, text: name, selected: name === state.portfolio }));
      });
    }, function () {});
  }

  function setWindow(name) {
    state.window = name;
    try { window.localStorage.setItem(WINDOW_KEY, name); } catch (e) { /* ignore */ }
    document.querySelectorAll("[data-window]").forEach(function (button) {
      button.setAttribute("aria-pressed", button.dataset.window === name ? "true" : "false");
    });
    if (state.summary) renderChange(state.summary);
    loadSeries();
  }

  var refresh = KF.debounce(function () {
    loadSummary();
    loadSeries();
  }, 50);

  document.addEventListener("DOMContentLoaded", function () {
    state.chart = new window.KFCharts.LineChart($("chart"), $("chart-readout"));
    try {
      var saved = window.localStorage.getItem(WINDOW_KEY);
      if (WINDOWS.indexOf(saved) >= 0) state.window = saved;
    } catch (e) { /* ignore */ }
    document.querySelectorAll("[data-window]").forEach(function (button) {
      button.addEventListener("click", function () { setWindow(button.dataset.window); });
    });
    $("portfolio-select").addEventListener("change", function (event) {
      state.portfolio = event.target.value;
      KF.setPortfolio(state.portfolio);
      var url = new URL(window.location.href);
      url.searchParams.delete("portfolio");
      window.history.replaceState(null, "", url.pathname + url.search);
      state.expanded = {};
      loadSummary();
      loadSeries();
    });
    KF.on("portfolio.updated", function (data) {
      if (!data.portfolio || data.portfolio === state.portfolio) refresh();
    });
    KF.on("account.status", refresh);
    KF.on("vault.status", refresh);
    loadPortfolios();
    setWindow(state.window);
    loadSummary();
    KF.refreshVault().then(function () {
      if (state.summary) renderBadges(state.summary);
    });
  });
})();
