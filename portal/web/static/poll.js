// Follows a seamless login: polls the status of the login that the page
// shows and, once the phone has answered (or the login ran out), submits the
// page's continue form, which finishes the login or says what went wrong.
(function () {
  "use strict";
  var box = document.getElementById("push");
  var form = document.getElementById("continue");
  if (!box || !form) {
    return;
  }
  var url = box.getAttribute("data-status");
  // The script follows the approval, so the button for pages without
  // script is not needed.
  form.hidden = true;
  var delay = 1000;
  var done = false;
  // Once the person sends the response string, that form decides: a poll
  // that saw the login approved meanwhile must not submit the continue
  // form over the response's own answer (which holds the new session).
  var respond = document.querySelector("#cr form");
  if (respond) {
    respond.addEventListener("submit", function () {
      done = true;
    });
  }
  function next(ms) {
    if (!done) {
      window.setTimeout(tick, ms);
    }
  }
  function tick() {
    fetch(url, {credentials: "same-origin", cache: "no-store", headers: {"Accept": "application/json"}})
      .then(function (r) {
        if (!r.ok) {
          throw new Error("status " + r.status);
        }
        return r.json();
      })
      .then(function (s) {
        if (done) {
          return;
        }
        if (s.status === "pending") {
          next(delay);
          return;
        }
        done = true;
        var w = document.getElementById("waiting");
        if (w) {
          w.textContent = s.status === "approved" ? "Approved. Continuing…" : "Continuing…";
        }
        form.submit();
      })
      .catch(function () {
        next(4 * delay);
      });
  }
  next(delay);
})();
