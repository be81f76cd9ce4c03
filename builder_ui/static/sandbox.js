// 流程沙盒: a ticket of the draft's machine kept in the page; each press asks the server to run the
// real action checks on it and answers with the new state or the refusal explained.
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const name = JSON.parse(document.getElementById("workspace-data").textContent).name;
  const $ = (id) => document.getElementById(id);
  let ticket = null;

  function text() { return OPEditor.textOf(document.querySelector("#editor .cm-content")); }

  async function press(action, payload, redraw) {
    const body = { content: text(), machine: $("sb-machine").value || null, role: $("sb-role").value || null,
      state: ticket ? ticket.state : null, data: ticket ? ticket.data : {}, action: action || null, payload: payload || {} };
    const resp = await fetch("/rulesets/" + encodeURIComponent(name) + "/sandbox", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body),
    });
    const r = await resp.json();
    if (!resp.ok) { $("sb-result").textContent = r.error ? r.error.message : "沙盒运行失败"; return; }
    render(r, !action && !redraw);
  }

  function render(r, fresh) {
    ticket = { state: r.state, data: r.data };
    const machineSel = $("sb-machine");
    if (!machineSel.options.length) for (const m of r.machines) machineSel.append(new Option(m, m, false, m === r.machine));
    const roleSel = $("sb-role");
    if (!roleSel.options.length) for (const x of r.roles) roleSel.append(new Option(x.label, x.code, false, x.code === "cs"));
    $("sb-state").textContent = "当前状态：" + r.state + (r.owner ? "（负责人 " + r.owner + (r.deadline ? "，时限 " + r.deadline : "") + "）" : "") + (r.final ? " · 已结束" : "");
    const box = $("sb-actions");
    box.replaceChildren();
    for (const a of r.actions) {
      const row = document.createElement("div");
      row.className = "toolbar";
      const inputs = {};
      for (const f of a.requires) {
        const input = document.createElement("input");
        input.setAttribute("aria-label", a.name + " 的 " + f);
        input.placeholder = f;
        inputs[f] = input;
        row.append(input);
      }
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = a.name;
      button.addEventListener("click", () => {
        const payload = {};
        for (const [k, input] of Object.entries(inputs)) if (input.value) payload[k] = input.value;
        press(a.name, payload);
      });
      const note = document.createElement("span");
      note.className = "muted";
      note.textContent = "→ " + a.to + (a.by.length ? "（" + a.by.join("、") + "）" : "") + (a.webhook ? "（回调 " + a.webhook + "）" : "");
      row.prepend(button);
      row.append(note);
      box.append(row);
    }
    if (!r.actions.length) box.textContent = r.final ? "工单已结束。" : "当前状态没有可执行的动作。";
    const result = $("sb-result");
    if (r.refused) { result.className = "alert error"; result.textContent = "已拒绝：" + r.refused.message; }
    else if (r.moved) {
      result.className = "alert success";
      result.textContent = "已执行「" + r.moved.action + "」：" + r.moved.from + " → " + r.moved.to;
      const li = document.createElement("li");
      li.textContent = r.moved.action + "：" + r.moved.from + " → " + r.moved.to + "（" + roleSel.options[roleSel.selectedIndex].text + "）";
      $("sb-history").append(li);
    } else if (fresh) { result.className = ""; result.textContent = "已新建试验工单，初始状态 " + r.state; $("sb-history").replaceChildren(); }
    $("sb-diagram").innerHTML = r.svg;
  }

  // The text changed and checks clean: redraw the diagram and the ticket's actions from it.
  document.addEventListener("op:checked", (e) => { if (e.detail.ok) press(null, {}, true); });
  $("sb-start").addEventListener("click", () => { ticket = null; press(null); });
  $("sb-machine").addEventListener("change", () => { ticket = null; press(null); });
  press(null);
})();
