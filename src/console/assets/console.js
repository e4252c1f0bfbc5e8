// medaid console: small enhancements only; every page works without it.
document.addEventListener("click", function (e) {
  var t = e.target;
  if (t && t.matches && t.matches("[data-print]")) {
    e.preventDefault();
    window.print();
  }
  if (t && t.matches && t.matches("[data-confirm]") && !window.confirm(t.getAttribute("data-confirm"))) {
    e.preventDefault();
  }
});
