// A vote link opened in a browser records the vote without a second tap; a plain fetch (a mail
// scanner) runs no script, so it records nothing. Coming back to the page with the browser's Back or
// Forward button is not opening the link again: after an undo it must not vote once more.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector("form[data-auto-submit]");
  var navigation = performance.getEntriesByType("navigation")[0];
  if (form && !(navigation && navigation.type === "back_forward")) {
    form.submit();
  }
});
