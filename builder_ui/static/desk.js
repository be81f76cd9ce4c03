// 发货台: 全选 ticks every order of the list; 打印 buttons print the current view.
(function () {
  "use strict";
  var all = document.getElementById("select-all");
  if (all) {
    all.addEventListener("change", function () {
      document.querySelectorAll('#desk-orders input[name="order"]').forEach(function (box) {
        box.checked = all.checked;
      });
    });
  }
  // 打印面单 and 拣货单 only read: their GET must not carry the form's CSRF token in the address
  var form = document.getElementById("desk-form");
  if (form) {
    form.addEventListener("submit", function (event) {
      var token = form.querySelector('input[name="csrf_token"]');
      if (token && event.submitter && event.submitter.getAttribute("formmethod") === "get") {
        token.disabled = true;
        setTimeout(function () { token.disabled = false; }, 0);
      }
    });
  }
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
})();
