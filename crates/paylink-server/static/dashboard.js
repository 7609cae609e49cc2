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
  [name, color, logo, email].forEach(function (el) {
    if (el) el.addEventListener("input", update);
  });
  if (picker && color) {
    picker.hidden = false;
    picker.addEventListener("input", function () { color.value = picker.value; update(); });
  }
  update();
})();
