/* keyfolio portfolios: create, rename, remove, and switch the one the overview shows. */
(function () {
  "use strict";

  var KF = window.KF;
  var D = window.KFDec;
  var h = KF.h;

  function $(id) {
    return document.getElementById(id);
  }

  function row(item, index) {
    var current = item.name === KF.portfolio();
    var errorBox = $("list-error");
    var nameCell = h("th", { scope: "row" }, h("span", { class: "pf-name", text: item.name }),
      current ? h("span", { class: "badge badge-ok", text: "shown" }) : null);

    var renameInput = h("input", { id: "rename-" + index, value: item.name, required: true,
      autocomplete: "off", spellcheck: "false", maxlength: "64" });
    var renameForm = h("form", { class: "inline-form rename hidden", method: "post", novalidate: true },
      h("label", { for: "rename-" + index, class: "visually-hidden", text: "New name for " + item.name }),
      renameInput,
      h("button", { type: "submit", class: "primary", text: "Save" }),
      h("button", { type: "button", text: "Cancel", onclick: function () {
        KF.show(renameForm, false);
        KF.show(buttons, true);
      } }));
    renameForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var name = renameInput.value.trim();
      if (!name || name === item.name) return;
      KF.hideError(errorBox);
      KF.api("PATCH", "/portfolios/" + encodeURIComponent(item.name), { name: name })
        .then(function (result) {
          if (current) KF.setPortfolio(result.name || name);
          load();
        }, function (error) { KF.showError(errorBox, error); });
    });

    var confirmBox = h("span", { class: "confirm hidden", role: "group",
      "aria-label": "Confirm removal of " + item.name },
      h("span", { text: "Remove " + item.name + "?" }),
      h("button", { type: "button", class: "danger", text: "Yes, remove", onclick: function () {
        KF.hideError(errorBox);
        KF.api("DELETE", "/portfolios/" + encodeURIComponent(item.name)).then(function () {
          if (current) KF.setPortfolio("main");
          load();
        }, function (error) {
          KF.show(confirmBox, false);
          KF.show(buttons, true);
          KF.showError(errorBox, error);
        });
      } }),
      h("button", { type: "button", text: "Keep", onclick: function () {
        KF.show(confirmBox, false);
        KF.show(buttons, true);
      } }));

    var buttons = h("span", { class: "buttons" },
      h("button", { type: "button", class: current ? null : "primary", disabled: current,
        text: current ? "Shown" : "Switch", "aria-label": "Switch to " + item.name,
        onclick: function () {
          KF.setPortfolio(item.name);
          window.location.assign("/?portfolio=" + encodeURIComponent(item.name));
        } }),
      h("button", { type: "button", text: "Rename", "aria-label": "Rename " + item.name,
        onclick: function () {
          KF.show(buttons, false);
          KF.show(renameForm, true);
          renameInput.focus();
          renameInput.select();
        } }),
      h("button", { type: "button", class: "danger", text: "Remove", "aria-label": "Remove " + item.name,
        disabled: item.name === "main", title: item.name === "main" ? "main cannot be removed" : null,
        onclick: function () {
          KF.show(buttons, false);
          KF.show(confirmBox, true);
        } }));

    return h("tr", { "data-portfolio": item.name },
      nameCell,
      h("td", { class: "num", text: String(item.accounts) }),
      h("td", { class: "num", text: D.usd(item.total_value) }),
      h("td", { class: "col-actions" }, buttons, renameForm, confirmBox));
  }

  function load() {
    return KF.api("GET", "/portfolios").then(function (items) {
      var body = KF.clear(document.querySelector("#portfolios tbody"));
      (items || []).forEach(function (item, index) { body.appendChild(row(item, index)); });
      document.body.dataset.loaded = "true";
    }, function (error) { KF.showError($("list-error"), error); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    $("create-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var input = $("new-name");
      var name = input.value.trim();
      KF.hideError($("create-error"));
      if (!name) {
        KF.showError($("create-error"), { message: "Enter a name.", hint: "" });
        return;
      }
      KF.api("POST", "/portfolios", { name: name }).then(function () {
        input.value = "";
        load();
      }, function (error) { KF.showError($("create-error"), error); });
    });
    KF.on("portfolio.updated", KF.debounce(load, 200));
    load();
  });
})();
