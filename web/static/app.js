// Small behaviours without inline handlers, so the Content-Security-Policy can forbid inline script.
document.addEventListener("click", function (e) {
  var t = e.target.closest("[data-print]");
  if (t) { e.preventDefault(); window.print(); }
});
document.addEventListener("change", function (e) {
  var t = e.target.closest("[data-autosubmit]");
  if (t && t.form) { t.form.submit(); }
});
