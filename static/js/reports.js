// Monthly report: a Print button (the page prints fine without it, from the browser menu).
document.querySelectorAll("[data-print]").forEach(function (button) {
  button.hidden = false;
  button.addEventListener("click", function () { window.print(); });
});
