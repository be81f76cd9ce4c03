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
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
})();
