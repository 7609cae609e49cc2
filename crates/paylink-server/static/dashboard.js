// The dashboard works without this file; it only adds a copy button to read-only fields.
document.querySelectorAll("button[data-copy]").forEach(function (button) {
  var field = document.getElementById(button.getAttribute("data-copy"));
  if (!field || !navigator.clipboard) return;
  button.hidden = false;
  button.addEventListener("click", function () {
    navigator.clipboard.writeText(field.value).then(function () {
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = "Copy"; }, 1500);
    });
  });
});

// The new link form: only the fields of the chosen type, and a preview that follows what
// is typed. Without script every field shows and the server uses those of the type.
(function () {
  var form = document.getElementById("new-link-form");
  if (!form) return;
  var byId = function (id) { return document.getElementById(id); };
  var kind = function () {
    var checked = form.querySelector("input[name=type]:checked");
    return checked ? checked.value : "custom";
  };
  var money = function (typed) {
    var currency = byId("currency").value;
    var n = Number(String(typed).trim());
    if (!typed || !isFinite(n)) return "";
    try {
      return new Intl.NumberFormat(document.documentElement.lang || "en", { style: "currency", currency: currency }).format(n);
    } catch (e) {
      return typed + " " + currency;
    }
  };
  var chosenProducts = function () {
    var names = [];
    form.querySelectorAll(".product-row").forEach(function (row) {
      var s = row.querySelector("select");
      var q = row.querySelector("input");
      if (!s || !s.value) return;
      var n = q ? q.value.trim() : "1";
      var label = s.options[s.selectedIndex].text;
      names.push(n === "" || n === "1" ? label : n + " × " + label);
    });
    return names;
  };
  var price = function () {
    var k = kind();
    if (k === "donation") {
      var presets = byId("presets").value.split(/[,; ]+/).filter(Boolean).map(money).filter(Boolean);
      var repeat = byId("repeat") ? byId("repeat").value : "";
      var chosen = presets.length ? presets.join(" · ") + " or another amount" : "You choose the amount";
      return repeat ? chosen + ", every " + repeat : chosen;
    }
    if (k === "storefront") return "Every product for sale";
    if (k === "order") return byId("order_id").value ? byId("order_id").options[byId("order_id").selectedIndex].text : "The order's total";
    if (k === "products") return chosenProducts().join(" + ") || "Choose a product";
    if (k === "subscription") {
      var what = chosenProducts().join(" + ") || money(byId("amount").value);
      var every = byId("interval_count").value.trim() || "1";
      var line = what ? what + " every " + (every === "1" ? "" : every + " ") + byId("interval").value + (every === "1" ? "" : "s") : "";
      var trial = Number(byId("trial_days").value.trim());
      return trial > 0 && line ? trial + " days free, then " + line : line;
    }
    return money(byId("amount").value);
  };
  var update = function () {
    var k = kind();
    form.setAttribute("data-kind", k);
    form.querySelectorAll("[data-for]").forEach(function (el) {
      el.hidden = el.getAttribute("data-for").split(" ").indexOf(k) < 0;
    });
    byId("lp-title").textContent = byId("title").value.trim() || "Your title";
    byId("lp-description").textContent = byId("description").value.trim();
    byId("lp-price").textContent = price();
  };
  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();
})();

// A button that undoes something (delete, cancel, refund, revoke) asks first. Without
// script the form is sent as it is.
document.querySelectorAll("button[data-confirm]").forEach(function (button) {
  button.addEventListener("click", function (event) {
    if (!window.confirm(button.getAttribute("data-confirm"))) event.preventDefault();
  });
});

// Settings (dash-settings): the checkout preview follows the branding fields as they are
// typed, and a colour picker sits beside the colour's text field. Without this the preview
// shows the saved values.
(function () {
  var preview = document.getElementById("preview");
  if (!preview) return;
  var field = function (id) { return document.getElementById(id); };
  var name = field("business_name"), color = field("brand_color"), logo = field("logo_url"),
      email = field("support_email"), picker = field("brand_color_picker");
  var saved = preview.getAttribute("data-brand") || "#1f4fd1";
  var isColor = function (c) { return /^#[0-9a-fA-F]{6}$/.test(c); };
  // The hosted pages' rule: dark text on a light colour, white on a dark one.
  var ink = function (c) {
    var lin = function (i) {
      var v = parseInt(c.substr(i, 2), 16) / 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    };
    return 0.2126 * lin(1) + 0.7152 * lin(3) + 0.0722 * lin(5) > 0.179 ? "#16181d" : "#ffffff";
  };
  var update = function () {
    if (name && name.value.trim()) {
      field("preview-name").textContent = name.value.trim();
      field("preview-contact-name").textContent = name.value.trim();
    }
    if (color) {
      var typed = color.value.trim();
      var c = isColor(typed) ? typed : (typed === "" ? "#1f4fd1" : saved);
      preview.style.setProperty("--preview-brand", c);
      preview.style.setProperty("--preview-ink", ink(c));
      if (picker && isColor(c)) picker.value = c.toLowerCase();
    }
    if (logo) {
      var img = field("preview-logo"), url = logo.value.trim();
      if (/^https:\/\/[^\s]+$/.test(url)) { img.src = url; img.hidden = false; }
      else if (url === "") { img.removeAttribute("src"); img.hidden = true; }
    }
    if (email) field("preview-contact").hidden = email.value.trim() === "";
  };
  [name, color, email].forEach(function (el) {
    if (el) el.addEventListener("input", update);
  });
  // The logo is fetched once its address is complete (on leaving the field), not at every
  // key: each partial address would be a request to some host.
  if (logo) logo.addEventListener("change", update);
  if (picker && color) {
    picker.hidden = false;
    picker.addEventListener("input", function () { color.value = picker.value; update(); });
  }
  update();
})();
