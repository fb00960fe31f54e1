// Marks the rules of the password policy that the new password does not
// meet yet, as the server checks them. The form works without it.
"use strict";
(function () {
  var form = document.getElementById("password-form");
  if (!form || !window.fetch || !window.URLSearchParams) {
    return;
  }
  var input = form.elements["new"];
  var items = Array.prototype.slice.call(document.querySelectorAll("#rules li[data-rules]"));
  var timer = 0;
  var latest = 0;

  function mark(unmet) {
    items.forEach(function (li) {
      var broken = li.getAttribute("data-rules").split(" ").some(function (r) {
        return unmet === null ? false : unmet.indexOf(r) >= 0;
      });
      li.classList.toggle("unmet", unmet !== null && broken);
      li.classList.toggle("met", unmet !== null && !broken);
    });
  }

  function check() {
    var n = ++latest;
    if (input.value === "") {
      mark(null);
      return;
    }
    var body = new URLSearchParams();
    body.set("csrf", form.elements["csrf"].value);
    body.set("password", input.value);
    fetch("/password/check", { method: "POST", body: body, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (j) {
        if (j && n === latest) {
          mark(j.unmet || []);
        }
      })
      .catch(function () {});
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(check, 200);
  });
})();
