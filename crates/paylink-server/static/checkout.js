// Progressive enhancement only: the page works without this file.
// With it, totals follow every change at once, so "Update total" is not needed.
document.documentElement.classList.add("js");
// Prevents a double submit of the pay form while the first one is on its way.
document.addEventListener("submit", function (event) {
  var form = event.target;
  var clicked = event.submitter;
  if (!clicked || clicked.value === "update" || form.id === "stripe-form") return;
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
  var trial = form.dataset.trial === "1";
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

  var decimal = form.dataset.decimal || ".";
  function parseMajor(text) {
    var minor = paylinkParseMajor(text, exponent, decimal);
    return minor === null ? null : BigInt(minor);
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
      set("line-total-" + i, format(amount));
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
    set("hsa", format(t.hsa));
    set("recurring", format(t.total));
    set("recurring-then", format(t.total));
    set("recurring-total", format(t.total));
    // A free trial charges nothing today: only what recurs follows the cart.
    if (!trial) {
      set("total", format(t.total));
      set("headline-total", format(t.total));
      // A seller on Stripe takes the card on the next page: the button says so.
      var pay = document.getElementById("pay");
      if (pay && !pay.hasAttribute("data-next")) set("pay", "Pay " + format(t.total));
      set("due-today", format(t.total));
      set("confirm-wallet-amount", format(t.total));
      set("confirm-wallet-total", format(t.total));
    }
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
    var style = t.dataset.date === "1" ? { dateStyle: "long" } : { dateStyle: "long", timeStyle: "short" };
    t.textContent = when.toLocaleString(undefined, style);
  } catch (e) { /* keep the server's text */ }
});

// Card entry: the number grouped as typed (4-6-5 for American Express, else fours) with its
// brand named, the expiry slashed after the month. The server reads digits only.
(function () {
  var number = document.getElementById("card_number");
  var brandLabel = document.getElementById("card-brand");
  var exp = document.getElementById("card_exp");
  function brandOf(d) {
    var p2 = parseInt(d.slice(0, 2), 10), p4 = parseInt(d.slice(0, 4), 10);
    if (/^4/.test(d)) return "Visa";
    if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return "Mastercard";
    if (p2 === 34 || p2 === 37) return "Amex";
    if (/^(6011|65|64[4-9])/.test(d)) return "Discover";
    if (p4 >= 3528 && p4 <= 3589) return "JCB";
    if (/^(36|38|30[0-5])/.test(d)) return "Diners";
    if (/^62/.test(d)) return "UnionPay";
    return "";
  }
  if (number) {
    number.addEventListener("input", function () {
      var d = number.value.replace(/\D/g, "").slice(0, 19);
      var brand = brandOf(d);
      var groups = brand === "Amex" ? [4, 6, 5] : [4, 4, 4, 4, 3];
      var out = [], at = 0;
      for (var i = 0; i < groups.length && at < d.length; i++) {
        out.push(d.slice(at, at + groups[i]));
        at += groups[i];
      }
      var formatted = out.join(" ");
      if (formatted !== number.value) number.value = formatted;
      if (brandLabel) brandLabel.textContent = brand;
    });
  }
  if (exp) {
    exp.addEventListener("input", function (event) {
      var deleting = event.inputType && event.inputType.indexOf("delete") === 0;
      var d = exp.value.replace(/\D/g, "").slice(0, 4);
      if (d.length === 1 && d > "1") d = "0" + d;
      var formatted = d.length >= 2 && !(deleting && d.length === 2) ? d.slice(0, 2) + "/" + d.slice(2) : d;
      if (formatted !== exp.value) exp.value = formatted;
    });
  }
})();

// Receipts print from their button.
(function () {
  var button = document.getElementById("print");
  if (!button) return;
  button.hidden = false;
  button.addEventListener("click", function () { window.print(); });
})();

// Major units as typed to minor units (a string of digits), read as the server reads them
// (Currency::parse_major_in; tests/it/locales.rs runs both over one corpus): of "." and
// ",", the last is the decimal mark when both appear; one that appears more than once
// groups; one that appears once is the decimal mark when it is the locale's (`decimal`) or
// is not followed by exactly three digits. Spaces and apostrophes group too; groups are as
// numbers are written (the last three digits, the ones before two or three, the first not
// starting with 0). null when not a number.
function paylinkParseMajor(text, exponent, decimal) {
  var s = text.trim().replace(/[\s'\u2019]/g, " ");
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
  var groups = whole.split(/[ .,]/);
  if (groups.length > 1) {
    var first = groups[0], rest = groups.slice(1);
    var well = first.length >= 1 && first.length <= 3 && first.charAt(0) !== "0" &&
      rest[rest.length - 1].length === 3 &&
      rest.every(function (g) { return g.length === 2 || g.length === 3; });
    if (!well) return null;
  }
  whole = groups.join("");
  if (!/^\d+$/.test(whole) || !/^\d*$/.test(frac) || frac.length > exponent) return null;
  while (frac.length < exponent) frac += "0";
  var digits = (whole + frac).replace(/^0+(?=\d)/, "");
  return digits;
}
