import { render } from "preact";
import { heldSessionToken, takeSessionToken } from "./api.js";
import { App } from "./app.jsx";
import "./style.css";

// A session link opened in a tab that already shows the page changes only the fragment (the
// document stays): take it from the address bar, and start again with its session if it
// brought a new one, rather than go on with the old one and leave the token on show.
window.addEventListener("hashchange", () => {
  const held = heldSessionToken();
  if (takeSessionToken() !== held) window.location.reload();
});

render(<App />, document.getElementById("app"));
