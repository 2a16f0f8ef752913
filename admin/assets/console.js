// scimbridge console: small conveniences only; every page reads and
// works without this script (revocations then go without a confirmation).
"use strict";
document.addEventListener("submit", function (e) {
  var msg = e.target.getAttribute("data-confirm");
  if (msg && !window.confirm(msg)) {
    e.preventDefault();
  }
});
document.addEventListener("click", function (e) {
  var id = e.target.getAttribute && e.target.getAttribute("data-copy");
  if (!id) {
    return;
  }
  var field = document.getElementById(id);
  field.select();
  if (navigator.clipboard) {
    navigator.clipboard.writeText(field.value).then(function () { e.target.textContent = "Copied"; });
  }
});
