// Improves the signup and preference forms; each works without it.
// Time zone: the browser's zone is selected (added to the short menu if it is not there), and the
// "Not listed?" field searches every zone. The zone is read when the reader first touches the form:
// the first Intl call loads the browser's time-zone data, which would otherwise delay every page load.
document.addEventListener("DOMContentLoaded", function () {
  var selects = document.querySelectorAll('select[data-detect-timezone="yes"]');
  selects.forEach(function (select) {
    var form = select.form;
    if (!form) { return; }
    var detect = function () {
      form.removeEventListener("focusin", detect);
      form.removeEventListener("pointerdown", detect);
      var zone;
      try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
      if (!zone || select.getAttribute("data-detect-timezone") !== "yes") { return; }
      var found = false;
      for (var i = 0; i < select.options.length; i++) {
        if (select.options[i].value === zone) { found = true; break; }
      }
      if (!found) { select.add(new Option(zone, zone), 0); }
      select.value = zone;
    };
    form.addEventListener("focusin", detect);
    form.addEventListener("pointerdown", detect);
    // A zone chosen by hand is never overwritten.
    select.addEventListener("change", function () { select.setAttribute("data-detect-timezone", "no"); });
  });
  document.querySelectorAll("datalist[data-source]").forEach(function (list) {
    var input = document.querySelector('input[list="' + list.id + '"]');
    if (!input) { return; }
    var loaded = false;
    input.addEventListener("focus", function () {
      if (loaded) { return; }
      loaded = true;
      fetch(list.getAttribute("data-source")).then(function (response) { return response.json(); })
        .then(function (names) {
          names.forEach(function (name) { list.appendChild(new Option(name)); });
        }).catch(function () { loaded = false; });
    });
  });
});
