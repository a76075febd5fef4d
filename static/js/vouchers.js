// Print button on the bearer voucher sheet (the page also says "Ctrl+P" for no-JS use).
document.querySelectorAll("[data-print]").forEach(function (button) {
  button.addEventListener("click", function () { window.print(); });
});
