// The campaign form's live preview: after a pause in typing, post the form to the preview
// address and show the answer in place. Without this script the "Xem trước" button does the same.
(function () {
  "use strict";
  var form = document.getElementById("compose");
  var target = document.getElementById("preview");
  if (!form || !target || !window.fetch) { return; }
  var timer = null;
  var asked = 0;
  function refresh() {
    var mine = ++asked;
    fetch(form.getAttribute("data-preview"), {
      method: "POST", body: new FormData(form), credentials: "same-origin"
    }).then(function (r) { return r.ok ? r.text() : null; }).then(function (html) {
      if (html !== null && mine === asked) { target.innerHTML = html; }
    }).catch(function () { /* offline: the button still works */ });
  }
  function soon() { clearTimeout(timer); timer = setTimeout(refresh, 500); }
  form.addEventListener("input", function (e) {
    // The problem named under a field is being fixed: the preview lists what is still wrong.
    var stale = e.target && e.target.name && document.getElementById("err-" + e.target.name);
    if (stale) { stale.remove(); }
    soon();
  });
  form.addEventListener("change", function (e) {
    // Another template has other fields: reload the form with them, keeping what was typed.
    if (e.target && e.target.name === "template") {
      var fresh = document.createElement("input");
      fresh.type = "hidden"; fresh.name = "fresh"; fresh.value = "1";
      form.appendChild(fresh);  // a new form to fill in, not one to find fault with yet
      var button = form.querySelector('button[value="preview"]');
      if (button) { button.click(); }
      return;
    }
    soon();
  });
})();
