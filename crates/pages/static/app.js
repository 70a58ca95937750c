// The pages' only script: progressive, everything works without it except the
// live refresh. Served as a file, as the Content-Security-Policy allows no inline script.
document.addEventListener("DOMContentLoaded", () => {
  // A pending payment: look again in a moment.
  const pending = document.querySelector("[data-refresh]");
  if (pending) {
    const seconds = Number(pending.getAttribute("data-refresh")) || 2;
    setTimeout(() => window.location.reload(), seconds * 1000);
  }
  // Back from another site's checkout: follow the link, a same-site navigation
  // that carries the session cookie.
  const follow = document.querySelector("a[data-follow]");
  if (follow) {
    window.location.replace(follow.href);
  }
  // Typing another amount clears the preset, so the form says what it will send.
  const other = document.getElementById("amount");
  const presets = document.querySelectorAll("input[name=preset]");
  if (other && presets.length) {
    other.addEventListener("input", () => presets.forEach((p) => { p.checked = p.checked && other.value === ""; }));
    presets.forEach((p) => p.addEventListener("change", () => { other.value = ""; }));
  }
});
