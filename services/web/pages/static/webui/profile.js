/* The profile page: copy a link or a token shown once. Without JS the field is still there to copy. */
(function () {
  "use strict";

  function fallbackCopy(input) {
    input.focus();
    input.select();
    try { return document.execCommand("copy"); } catch (e) { return false; }
  }

  function copyButton(button) {
    var input = document.querySelector(button.getAttribute("data-copy"));
    var out = document.querySelector(button.getAttribute("data-copied"));
    if (!input) { return; }
    button.addEventListener("click", function () {
      function done(ok) {
        if (out) { out.textContent = ok ? "Скопировано." : "Не удалось скопировать: выделите текст и скопируйте вручную."; }
        if (!ok) { input.focus(); input.select(); }
      }
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(function () { done(true); },
                                                        function () { done(fallbackCopy(input)); });
      } else {
        done(fallbackCopy(input));
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("button[data-copy]"), copyButton);
  });
}());
