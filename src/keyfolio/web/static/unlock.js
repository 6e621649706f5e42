/* keyfolio: unlock (or choose the password of) the vault through POST /vault/unlock. */
(function () {
  "use strict";

  var KF = window.KF;
  var creating = false;

  function $(id) {
    return document.getElementById(id);
  }

  /** Only same-site paths: never redirect to another origin. */
  function nextPath() {
    var next = new URLSearchParams(window.location.search).get("next") || "";
    return /^\/(?![/\\])/.test(next) ? next : null;
  }

  function done() {
    KF.show($("unlock-form"), false);
    KF.show($("unlocked-msg"), true);
    var next = nextPath();
    if (next) window.location.assign(next);
  }

  function relockText(vault) {
    if (vault.idle_minutes === null || vault.idle_minutes === undefined) return "";
    if (vault.auto_unlock) return "";
    return "It locks itself again after " + vault.idle_minutes + " minutes without a sync, " +
      "link or other use of the keys.";
  }

  function setup(vault) {
    if (!vault) return;
    $("relock-note").textContent = relockText(vault);
    if (vault.unlocked) {
      done();
      return;
    }
    KF.show($("unlock-form"), true);
    KF.show($("unlocked-msg"), false);
    creating = !vault.exists;
    KF.show($("create-intro"), creating);
    KF.show($("unlock-intro"), !creating);
    KF.show($("confirm-field"), creating);
    $("vault-confirm").required = creating;
    $("vault-password").setAttribute("autocomplete", creating ? "new-password" : "current-password");
    $("unlock-submit").textContent = creating ? "Set password" : "Unlock";
    $("unlock-title").textContent = creating ? "Choose a vault password" : "Unlock the vault";
  }

  document.addEventListener("DOMContentLoaded", function () {
    KF.refreshVault().then(setup);
    KF.on("vault.status", function () { KF.refreshVault().then(setup); });
    $("unlock-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var box = $("unlock-error");
      KF.hideError(box);
      var password = $("vault-password").value;
      if (!password) {
        KF.showError(box, { message: "Enter the vault password.", hint: "" });
        return;
      }
      if (creating && password !== $("vault-confirm").value) {
        KF.showError(box, { message: "The two passwords differ.", hint: "Type the same password twice." });
        return;
      }
      $("unlock-submit").disabled = true;
      KF.api("POST", "/vault/unlock", { password: password }).then(function () {
        $("vault-password").value = "";
        $("vault-confirm").value = "";
        $("unlock-submit").disabled = false;
        KF.refreshVault();
        done();
      }, function (error) {
        $("unlock-submit").disabled = false;
        KF.showError(box, error);
        $("vault-password").focus();
      });
    });
  });
})();
