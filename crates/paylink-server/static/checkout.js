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

  // Money as the page writes it: the customer's locale (data-locale, from Accept-Language)
  // through the browser's own CLDR data; "25.00 XYZ" where it has none for the currency.
  var money = null;
  try {
    money = new Intl.NumberFormat(form.dataset.locale || undefined, {
      style: "currency", currency: code,
      minimumFractionDigits: exponent, maximumFractionDigits: exponent
    });
  } catch (e) { money = null; }

  function format(minor) {
    var negative = minor < 0n;
    var digits = (negative ? -minor : minor).toString();
    if (exponent > 0) {
      while (digits.length <= exponent) digits = "0" + digits;
      digits = digits.slice(0, digits.length - exponent) + "." + digits.slice(digits.length - exponent);
    }
    var plain = (negative ? "-" : "") + digits;
    if (money) {
      try { return money.format(plain); } catch (e) { /* below */ }
    }
    return plain + " " + code;
  }

  // Major units as typed to minor units, read as the server reads them
  // (Currency::parse_major_in): of "." and ",", the last is the decimal mark when both
  // appear; one that appears more than once groups; one that appears once is the decimal
  // mark when it is the locale's (data-decimal) or is not followed by exactly three digits.
  // null when not a number.
  var decimal = form.dataset.decimal || ".";
  function parseMajor(text) {
    var s = text.trim().replace(/[\s'\u2019]/g, "");
    var marks = s.match(/[.,]/g) || [];
    var mark = null;
    if (marks.length) {
      var last = marks[marks.length - 1];
      var same = marks.filter(function (c) { return c === last; }).length;
      if (same !== marks.length) {
        if (same !== 1) return null;
        mark = last;
      } else if (marks.length === 1) {
        var after = s.length - s.lastIndexOf(last) - 1;
        if (last === decimal || after !== 3) mark = last;
      }
    }
    var whole = s, frac = "";
    if (mark) {
      var at = s.lastIndexOf(mark);
      whole = s.slice(0, at);
      frac = s.slice(at + 1);
    }
    whole = whole.replace(/[.,]/g, "");
    if (!/^\d+$/.test(whole) || !/^\d*$/.test(frac) || frac.length > exponent) return null;
    while (frac.length < exponent) frac += "0";
    return BigInt(whole + frac);
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

// Moments in the customer's own time zone and language (the server writes UTC).
document.querySelectorAll("time[datetime]").forEach(function (t) {
  var when = new Date(t.getAttribute("datetime"));
  if (isNaN(when.getTime())) return;
  try {
    t.textContent = when.toLocaleString(undefined, { dateStyle: "long", timeStyle: "short" });
  } catch (e) { /* keep the server's text */ }
});
