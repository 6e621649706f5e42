/* keyfolio: what every page shares — the API client (with token mode), a tiny DOM
 * builder, the current portfolio, the vault pill and the live event stream.
 * Every text goes through textContent: no HTML is ever parsed from data.
 */
(function () {
  "use strict";

  var API = "/api/v1";
  var TOKEN_KEY = "keyfolio.token";
  var PORTFOLIO_KEY = "keyfolio.portfolio";

  /** An API failure: the server's {"error","message","hint"} plus the HTTP status. */
  function ApiError(status, body) {
    this.name = "ApiError";
    this.status = status;
    this.code = (body && body.error) || "http_" + status;
    this.message = (body && body.message) || "The server answered " + status + ".";
    this.hint = (body && body.hint) || "";
  }
  ApiError.prototype = Object.create(Error.prototype);

  function token() {
    try {
      return window.sessionStorage.getItem(TOKEN_KEY);
    } catch (e) {
      return null;
    }
  }

  var tokenWaiters = null;

  /** Show the token dialog once, however many requests are waiting for it. */
  function askToken() {
    if (tokenWaiters) return new Promise(function (resolve) { tokenWaiters.push(resolve); });
    tokenWaiters = [];
    return new Promise(function (resolve) {
      tokenWaiters.push(resolve);
      var dialog = document.getElementById("token-dialog");
      var form = document.getElementById("token-form");
      var input = document.getElementById("token-input");
      form.addEventListener("submit", function onSubmit(event) {
        event.preventDefault();
        var value = input.value.trim();
        if (!value) return;
        try {
          window.sessionStorage.setItem(TOKEN_KEY, value);
        } catch (e) { /* private mode: keep it for this request only */ }
        input.value = "";
        form.removeEventListener("submit", onSubmit);
        dialog.close();
        var waiters = tokenWaiters;
        tokenWaiters = null;
        waiters.forEach(function (fn) { fn(value); });
        startLive();
      });
      if (typeof dialog.showModal === "function") dialog.showModal();
      else dialog.setAttribute("open", "");
      input.focus();
    });
  }

  function headers(json) {
    var out = { Accept: "application/json" };
    if (json) out["Content-Type"] = "application/json";
    var value = token();
    if (value) out.Authorization = "Bearer " + value;
    return out;
  }

  /** fetch() on /api/v1 returning parsed JSON (null for 204); throws ApiError. */
  function api(method, path, body, retried) {
    var init = { method: method, headers: headers(body !== undefined), credentials: "same-origin" };
    if (body !== undefined) init.body = JSON.stringify(body);
    return fetch(API + path, init).then(
      function (response) {
        if (response.status === 401 && !retried) {
          try { window.sessionStorage.removeItem(TOKEN_KEY); } catch (e) { /* ignore */ }
          return askToken().then(function () { return api(method, path, body, true); });
        }
        if (response.status === 204) return null;
        return response.text().then(function (text) {
          var data = null;
          try {
            data = text ? JSON.parse(text) : null;
          } catch (e) {
            data = null;
          }
          if (!response.ok) throw new ApiError(response.status, data);
          return data;
        });
      },
      function () {
        throw new ApiError(0, {
          error: "offline",
          message: "Cannot reach the keyfolio server.",
          hint: "Is `keyfolio serve` still running? Reload the page when it is back.",
        });
      }
    );
  }

  /** h("p", {class: "x", text: "hi"}, child, ...): elements built node by node. */
  function h(tag, attrs) {
    var el = document.createElement(tag);
    var options = attrs || {};
    Object.keys(options).forEach(function (key) {
      var value = options[key];
      if (value === null || value === undefined || value === false) return;
      if (key === "text") el.textContent = value;
      else if (key === "class") el.className = value;
      else if (key.slice(0, 2) === "on") el.addEventListener(key.slice(2), value);
      else if (value === true) el.setAttribute(key, "");
      else el.setAttribute(key, String(value));
    });
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined || child === false) continue;
      el.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return el;
  }

  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
    return el;
  }

  function show(el, visible) {
    if (el) el.classList.toggle("hidden", !visible);
  }

  /** Fill an error box with the message and the hint, and show it. */
  function showError(box, error) {
    clear(box);
    var message = error && error.message ? error.message : String(error);
    box.appendChild(h("p", { class: "error-message", text: message }));
    if (error && error.hint) box.appendChild(h("p", { class: "error-hint", text: error.hint }));
    box.dataset.code = (error && error.code) || "error";
    show(box, true);
  }

  function hideError(box) {
    clear(box);
    delete box.dataset.code;
    show(box, false);
  }

  function notice(error) {
    var box = document.getElementById("notice");
    if (!box) return;
    if (!error) {
      hideError(box);
      return;
    }
    showError(box, error);
  }

  /** The selected portfolio: ?portfolio=, else the last one chosen, else "main". */
  function portfolio() {
    var fromUrl = new URLSearchParams(window.location.search).get("portfolio");
    if (fromUrl) return fromUrl;
    try {
      return window.localStorage.getItem(PORTFOLIO_KEY) || "main";
    } catch (e) {
      return "main";
    }
  }

  function setPortfolio(name) {
    try {
      window.localStorage.setItem(PORTFOLIO_KEY, name);
    } catch (e) { /* ignore */ }
  }

  function relTime(iso) {
    if (!iso) return "never";
    var then = Date.parse(iso);
    if (isNaN(then)) return iso;
    var seconds = Math.round((Date.now() - then) / 1000);
    if (seconds < 45) return "just now";
    var minutes = Math.round(seconds / 60);
    if (minutes < 60) return minutes + " min ago";
    var hours = Math.round(minutes / 60);
    if (hours < 36) return hours + " h ago";
    return Math.round(hours / 24) + " days ago";
  }

  function localTime(iso) {
    if (!iso) return "";
    var date = new Date(iso);
    return isNaN(date.getTime()) ? iso : date.toLocaleString();
  }

  /** Call fn at most once per `ms`, trailing (bursts of events cause one refetch). */
  function debounce(fn, ms) {
    var timer = null;
    return function () {
      if (timer) clearTimeout(timer);
      timer = setTimeout(function () {
        timer = null;
        fn();
      }, ms);
    };
  }

  /* ---- vault pill ---- */

  function showVault(vault) {
    var pill = document.getElementById("vault-state");
    if (pill) {
      pill.textContent = vault.exists ? "Vault locked" : "No vault yet";
      show(pill, !vault.unlocked);
    }
    document.body.dataset.vault = vault.unlocked ? "unlocked" : vault.exists ? "locked" : "none";
  }

  function refreshVault() {
    return api("GET", "/vault").then(
      function (vault) {
        showVault(vault);
        return vault;
      },
      function () {
        return null;
      }
    );
  }

  /** The server re-locked the vault after its idle period (or it was unlocked elsewhere). */
  function onVaultStatus(data) {
    var box = document.getElementById("notice");
    if (data.unlocked) {
      if (box && box.dataset.code === "vault_relocked") notice(null);
      return;
    }
    document.body.dataset.vault = "locked";
    var pill = document.getElementById("vault-state");
    if (pill) {
      pill.textContent = "Vault locked";
      show(pill, true);
    }
    if (data.reason === "idle") {
      notice({
        code: "vault_relocked",
        message: "The vault locked itself after being idle: nothing is synced until you unlock it.",
        hint: "Click “Vault locked” at the top to unlock it. Stored balances, history and P&L still show.",
      });
    }
  }

  /* ---- live events ---- */

  var listeners = {};
  var source = null;
  var streamAbort = null;

  function on(type, fn) {
    (listeners[type] = listeners[type] || []).push(fn);
  }

  function dispatch(type, raw) {
    var data = null;
    try {
      data = raw ? JSON.parse(raw) : null;
    } catch (e) {
      data = null;
    }
    if (type === "vault.status") onVaultStatus(data || {});
    (listeners[type] || []).forEach(function (fn) { fn(data || {}); });
  }

  function setLive(state) {
    var pill = document.getElementById("live-state");
    if (!pill) return;
    pill.classList.toggle("live-on", state === "on");
    pill.classList.toggle("live-off", state !== "on");
    pill.textContent = state === "on" ? "Live" : state === "off" ? "Offline" : "Connecting…";
    document.body.dataset.live = state;
  }

  /** EventSource cannot send headers: with a token, read the stream through fetch. */
  function streamWithToken(value) {
    streamAbort = new AbortController();
    var init = { headers: { Accept: "text/event-stream", Authorization: "Bearer " + value },
      signal: streamAbort.signal };
    fetch(API + "/events", init).then(function (response) {
      if (response.status === 401) {
        setLive("off");
        return askToken().then(startLive);
      }
      if (!response.ok || !response.body) throw new Error("events " + response.status);
      setLive("on");
      var reader = response.body.getReader();
      var decoder = new TextDecoder();
      var buffer = "";
      function pump() {
        return reader.read().then(function (chunk) {
          if (chunk.done) throw new Error("stream ended");
          buffer += decoder.decode(chunk.value, { stream: true }).replace(/\r\n?/g, "\n");
          var cut;
          while ((cut = buffer.indexOf("\n\n")) >= 0) {
            var block = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            var type = "message";
            var lines = [];
            block.split("\n").forEach(function (line) {
              if (line.indexOf("event:") === 0) type = line.slice(6).trim();
              else if (line.indexOf("data:") === 0) lines.push(line.slice(5).replace(/^ /, ""));
            });
            if (lines.length) dispatch(type, lines.join("\n"));
          }
          return pump();
        });
      }
      return pump();
    }).catch(function () {
      if (streamAbort && streamAbort.signal.aborted) return;
      setLive("off");
      setTimeout(startLive, 3000);
    });
  }

  var EVENT_TYPES = ["portfolio.updated", "account.status", "sync.progress", "vault.status"];

  function startLive() {
    if (source) source.close();
    if (streamAbort) streamAbort.abort();
    source = null;
    streamAbort = null;
    var value = token();
    if (value) {
      streamWithToken(value);
      return;
    }
    if (typeof window.EventSource !== "function") {
      setLive("off");
      return;
    }
    source = new window.EventSource(API + "/events");
    source.onopen = function () { setLive("on"); };
    source.onerror = function () {
      setLive(source && source.readyState === 2 ? "off" : "connecting");
      if (source && source.readyState === 2) {
        // Closed for good (e.g. 401 in token mode): find out why through a normal request.
        api("GET", "/health").then(function () { setTimeout(startLive, 3000); }, function () {});
      }
    };
    EVENT_TYPES.forEach(function (type) {
      source.addEventListener(type, function (event) { dispatch(type, event.data); });
    });
  }

  window.addEventListener("pagehide", function () {
    if (source) source.close();
    if (streamAbort) streamAbort.abort();
  });

  document.addEventListener("DOMContentLoaded", function () {
    setLive("connecting");
    refreshVault();
    startLive();
  });

  window.KF = {
    api: api,
    ApiError: ApiError,
    h: h,
    clear: clear,
    show: show,
    showError: showError,
    hideError: hideError,
    notice: notice,
    portfolio: portfolio,
    setPortfolio: setPortfolio,
    relTime: relTime,
    localTime: localTime,
    debounce: debounce,
    refreshVault: refreshVault,
    on: on,
  };
})();
