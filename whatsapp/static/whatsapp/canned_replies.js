// Canned replies in the reply box: typing /shortcut offers the matching replies; Enter, Tab or a click
// inserts the chosen one's text, rendered by the server for this client (whatsapp/replies.py).
(function () {
  "use strict";
  var box = document.getElementById("reply-text");
  if (!box || !box.dataset.repliesUrl) return;
  var menu = document.createElement("ul");
  menu.className = "canned-menu";
  menu.id = "canned-menu";
  menu.hidden = true;
  box.insertAdjacentElement("afterend", menu);
  var loaded = null; // the replies, fetched once, on the first "/"
  var shown = [];
  var active = 0;

  function load() {
    if (!loaded) {
      loaded = fetch(box.dataset.repliesUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (answer) { return answer.ok ? answer.json() : { replies: [] }; })
        .then(function (data) { return data.replies || []; })
        .catch(function () { loaded = null; return []; });
    }
    return loaded;
  }

  // The "/word" just before the caret, at the start of the text or after a space.
  function typed() {
    var before = box.value.slice(0, box.selectionStart);
    var match = /(^|\s)\/([\w-]*)$/.exec(before);
    return match ? { start: before.length - match[2].length - 1, word: match[2].toLowerCase() } : null;
  }

  function hide() { menu.hidden = true; shown = []; }

  function render() {
    menu.textContent = "";
    shown.forEach(function (reply, i) {
      var item = document.createElement("li");
      item.dataset.shortcut = reply.shortcut;
      var name = document.createElement("span");
      name.className = "shortcut";
      name.textContent = "/" + reply.shortcut + (reply.shared ? "" : " (mine)");
      var preview = document.createElement("span");
      preview.className = "preview";
      preview.textContent = reply.error || (reply.text.length > 90 ? reply.text.slice(0, 89) + "…" : reply.text);
      item.append(name, preview);
      if (reply.error) item.classList.add("error");
      if (i === active) item.classList.add("active");
      item.addEventListener("mousedown", function (event) { event.preventDefault(); insert(reply); });
      menu.appendChild(item);
    });
    menu.hidden = shown.length === 0;
  }

  function offer() {
    var found = typed();
    if (!found) return hide();
    load().then(function (replies) {
      var now = typed();
      if (!now || now.word !== found.word) return;
      shown = replies.filter(function (reply) { return reply.shortcut.indexOf(found.word) === 0; });
      active = 0;
      render();
    });
  }

  function insert(reply) {
    var found = typed();
    if (!found || reply.error) return;
    var end = box.selectionStart;
    box.value = box.value.slice(0, found.start) + reply.text + box.value.slice(end);
    var caret = found.start + reply.text.length;
    box.setSelectionRange(caret, caret);
    box.focus();
    hide();
  }

  box.addEventListener("input", offer);
  box.addEventListener("blur", hide);
  box.addEventListener("keydown", function (event) {
    if (menu.hidden || shown.length === 0) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      active = (active + (event.key === "ArrowDown" ? 1 : shown.length - 1)) % shown.length;
      render();
      event.preventDefault();
    } else if (event.key === "Enter" || event.key === "Tab") {
      insert(shown[active]);
      event.preventDefault();
    } else if (event.key === "Escape") {
      hide();
      event.preventDefault();
    }
  });
})();
