// Progressive enhancement only: the page works without this file.
// Prevents a double submit of the pay form while the first one is on its way.
document.addEventListener("submit", function (event) {
  var form = event.target;
  var clicked = event.submitter;
  if (!clicked || clicked.value === "update") return;
  if (form.dataset.submitting === "1") { event.preventDefault(); return; }
  form.dataset.submitting = "1";
  window.setTimeout(function () {
    form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
    clicked.textContent = "Processing…";
  }, 0);
});
