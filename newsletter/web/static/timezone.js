// Improves the signup and preference forms; each works without it.
// Time zone: the browser's zone is selected (added to the short menu if it is not there), and the
// "Not listed?" field searches every zone.
document.addEventListener("DOMContentLoaded", function () {
  var zone;
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { zone = null; }
  document.querySelectorAll('select[data-detect-timezone="yes"]').forEach(function (select) {
    if (!zone) { return; }
    var found = false;
    for (var i = 0; i < select.options.length; i++) {
      if (select.options[i].value === zone) { found = true; break; }
    }
    if (!found) { select.add(new Option(zone, zone), 0); }
    select.value = zone;
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
