// A vote link opened in a browser records the vote without a second tap; a plain fetch (a mail
// scanner) runs no script, so it records nothing.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector("form[data-auto-submit]");
  if (form) {
    form.submit();
  }
});
