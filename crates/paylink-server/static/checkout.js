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

// Keeps the total and the Pay button on what will be charged while the customer picks a
// donation amount or changes quantities. The server prices the cart again on submit and,
// should this ever disagree, shows the page again rather than charge another amount.
(function () {
  var form = document.querySelector("form.checkout[data-exponent]");
  if (!form || typeof BigInt !== "function") return;
  var exponent = parseInt(form.dataset.exponent, 10);
  var code = form.dataset.currency;
  var inclusive = form.dataset.inclusive === "1";
  var million = BigInt(1000000);

  function format(minor) {
    var negative = minor < 0n;
    var digits = (negative ? -minor : minor).toString();
    if (exponent > 0) {
      while (digits.length <= exponent) digits = "0" + digits;
      digits = digits.slice(0, digits.length - exponent) + "." + digits.slice(digits.length - exponent);
    }
    return (negative ? "-" : "") + digits + " " + code;
  }

  // Major units as typed ("25", "25.5", "1,000.00") to minor units; null when not a number.
  function parseMajor(text) {
    var s = text.trim().replace(/[, ]/g, "");
    var m = /^(\d+)(?:\.(\d*))?$/.exec(s);
    if (!m || (m[2] || "").length > exponent) return null;
    var frac = (m[2] || "");
    while (frac.length < exponent) frac += "0";
    return BigInt(m[1] + frac);
  }

  function set(id, text) {
    var el = document.getElementById(id);
    if (el) el.textContent = text;
  }

  function totals() {
    var donation = form.querySelector(".donation");
    if (donation) {
      var typed = form.querySelector("#amount");
      if (typed && typed.value.trim() !== "") {
        var amount = parseMajor(typed.value);
        return amount === null ? null : { subtotal: amount, tax: 0n, total: amount, hsa: 0n };
      }
      var preset = form.querySelector("input[name=preset]:checked");
      if (!preset) return null;
      var p = BigInt(preset.value);
      return { subtotal: p, tax: 0n, total: p, hsa: 0n };
    }
    var sums = { subtotal: 0n, tax: 0n, total: 0n, hsa: 0n };
    var lines = form.querySelectorAll("li.line[data-unit]");
    for (var i = 0; i < lines.length; i++) {
      var line = lines[i];
      var input = form.querySelector("[name=q" + i + "]");
      if (!input || !/^\d+$/.test(input.value.trim())) return null;
      var amount = BigInt(line.dataset.unit) * BigInt(input.value.trim());
      var tax = 0n, total = amount;
      if (line.dataset.rate) {
        var rate = BigInt(line.dataset.rate);
        if (inclusive) {
          var d = million + rate;
          tax = amount - (2n * amount * million + d) / (2n * d);
        } else {
          tax = (2n * amount * rate + million) / (2n * million);
          total = amount + tax;
        }
      }
      sums.subtotal += amount;
      sums.tax += tax;
      sums.total += total;
      if (line.dataset.hsa === "1") sums.hsa += total;
    }
    return sums;
  }

  function update() {
    var t = totals();
    var shown = document.getElementById("shown_total");
    if (!t) {
      // Not a number yet: the server will price it and ask.
      if (shown) shown.value = "";
      return;
    }
    set("subtotal", format(t.subtotal));
    set("tax", format(t.tax));
    set("total", format(t.total));
    set("hsa", format(t.hsa));
    set("pay", "Pay " + format(t.total));
    set("due-today", format(t.total));
    set("recurring", format(t.total));
    if (shown) shown.value = t.total.toString();
  }

  form.addEventListener("input", update);
  form.addEventListener("change", update);
})();
