// The back office's queue: tick every case of the page at once, and show only the fields the
// chosen bulk action needs. Without this script the page works the same, one tick at a time.
(function () {
  "use strict";
  var all = document.getElementById("tick-all");
  if (all) {
    var ticks = document.querySelectorAll("input.tick");
    all.hidden = false;
    all.addEventListener("change", function () {
      ticks.forEach(function (tick) { tick.checked = all.checked; });
    });
  }
  var form = document.getElementById("bulk-form");
  if (!form) { return; }
  var action = form.querySelector("select[name=action]");
  var needs = { assign: "assignee", resolve: "reply" };
  function show() {
    ["assignee", "reply"].forEach(function (name) {
      var field = form.querySelector("[name=" + name + "]").closest(".field");
      field.hidden = needs[action.value] !== name;
    });
  }
  action.addEventListener("change", show);
  show();
})();
