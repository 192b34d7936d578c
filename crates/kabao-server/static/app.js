// Kabao's only page script (the Content-Security-Policy allows no inline script): copy buttons beside
// card keys and claim numbers copy their data-copy text.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("button.copy").forEach(function (b) {
    b.addEventListener("click", function () {
      if (navigator.clipboard) { navigator.clipboard.writeText(b.dataset.copy); }
      b.textContent = "✓";
    });
  });
});
