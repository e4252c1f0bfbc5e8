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

// 测算: a baseline's own dates fill the date range.
document.addEventListener("change", function (e) {
  var t = e.target;
  if (t && t.matches && t.matches("select[name=baseline]")) {
    var o = t.options[t.selectedIndex];
    var f = t.form && t.form.querySelector("input[name=from]");
    var to = t.form && t.form.querySelector("input[name=to]");
    if (o && f && o.dataset.from) f.value = o.dataset.from;
    if (o && to && o.dataset.to) to.value = o.dataset.to;
  }
});
