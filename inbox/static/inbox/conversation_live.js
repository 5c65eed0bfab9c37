// The conversation's form while a colleague (or the client's message) changes it: after each live
// refresh, #conversation-fresh holds the values as they are now. A form the user has not touched
// takes them (and the values it was drawn with, so Save still sends only what the user changes);
// a form being edited is left alone, and a note says who changed what.
(function () {
  "use strict";
  var FIELDS = ["status", "snoozed_until_0", "snoozed_until_1", "assignee"];

  function value(form, name) {
    var field = form.elements.namedItem(name);
    return field ? field.value : null;
  }

  function edited(form) {
    var note = form.elements.namedItem("note");
    if (note && note.value.trim() !== "") return true;
    return FIELDS.some(function (name) {
      var shown = value(form, name);
      return shown !== null && shown !== value(form, "initial-" + name);
    });
  }

  function follow() {
    var form = document.getElementById("conversation_form");
    var fresh = document.getElementById("conversation-fresh");
    var notice = document.getElementById("conversation-changed");
    if (!form || !fresh || !notice) return;
    var now = {};
    FIELDS.forEach(function (name) {
      var input = fresh.querySelector('[name="fresh-' + name + '"]');
      if (input) now[name] = input.value;
    });
    var changed = Object.keys(now).some(function (name) {
      return value(form, "initial-" + name) !== null && value(form, "initial-" + name) !== now[name];
    });
    if (!changed) {
      notice.hidden = true;
      return;
    }
    if (edited(form)) {
      notice.textContent = "Changed by " + (fresh.dataset.by || "someone") + " at " + fresh.dataset.at +
        " while you were editing: now " + fresh.dataset.summary +
        ". Your edits are kept; Save applies only what you changed.";
      notice.hidden = false;
      return;
    }
    Object.keys(now).forEach(function (name) {
      var shown = form.elements.namedItem(name);
      var initial = form.elements.namedItem("initial-" + name);
      if (shown) shown.value = now[name];
      if (initial) initial.value = now[name];
    });
    notice.hidden = true;
  }

  document.addEventListener("htmx:afterSettle", follow);
})();
