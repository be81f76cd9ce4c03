// The machine form of the ruleset workspace: data fields, states (owner, deadline, final) and
// actions (from, to, by, requires, when, callback, effects) of each machine declaration, with the
// checker's problems next to the field they are about and the swimlanes redrawn after each edit.
// The rows go to the server, which writes them into the text (comments kept) and answers the
// new text, rows and problems; nothing is decided here. ruleset.js owns the editor and calls
// OPMachineForm.render(host, machines, ctx) with ctx = { el, vocab, apply(name, rows), errors }.
(function () {
  "use strict";
  let uid = 0;
  const nextId = (prefix) => prefix + "-" + (++uid);
  const listText = (xs) => (xs || []).join("、");
  const parseList = (text) => text.split(/[、,，\s]+/).map((x) => x.trim()).filter(Boolean);

  function render(host, machines, ctx) {
    const el = ctx.el;
    host.replaceChildren();
    for (const source of machines) {
      const m = JSON.parse(JSON.stringify(source));
      const problems = Object.assign({}, m.problems || {}, (ctx.errors || {})[m.name] || {});
      const commit = () => ctx.apply(m.name, m);

      // Messages for one field, linked to its control by aria-describedby.
      function errorsFor(path, control) {
        const list = problems[path];
        if (!list || !list.length) return null;
        const id = nextId("mf-err");
        if (control) control.setAttribute("aria-describedby", id);
        return el("div", { class: "error field-error", id, "data-path": path, text: list.join("；") });
      }
      // Messages for a path and everything under it that has no control of its own.
      function errorsUnder(prefix, shown) {
        const out = [];
        for (const [path, list] of Object.entries(problems)) {
          if ((path === prefix || path.startsWith(prefix + "/")) && !shown.includes(path)) out.push(...list);
        }
        return out.length ? el("div", { class: "error field-error", "data-path": prefix, text: out.join("；") }) : null;
      }

      const box = el("div", { class: "tier machine-form", "data-machine": m.name });
      box.append(el("h3", { text: "状态机 " + (m.title || m.name) + "（" + m.name + "）" }));

      // ------------------------------------------------ initial state
      const initial = el("select", { id: nextId("mf-initial") });
      for (const st of m.states) initial.append(el("option", { value: st.name, text: st.name, selected: st.name === m.initial }));
      if (m.initial && !m.states.some((s) => s.name === m.initial)) initial.append(el("option", { value: m.initial, text: m.initial, selected: true }));
      initial.addEventListener("change", () => { m.initial = initial.value; commit(); });
      box.append(el("div", { class: "toolbar" }, el("label", { for: initial.id, text: "初始状态" }), initial, errorsFor("/initial", initial)));

      // ------------------------------------------------ data fields
      box.append(el("h4", { text: "数据字段" }));
      const dataTable = el("table", { "aria-label": m.name + " 的数据字段" },
        el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "字段" }), el("th", { scope: "col", text: "类型" }),
          el("th", { scope: "col", text: "可不填" }), el("th", { scope: "col", text: "操作" }))));
      const dataBody = el("tbody");
      m.data.forEach((f, i) => {
        const type = el("select", { "aria-label": f.name + " 的类型" });
        for (const t of ctx.vocab.types) type.append(el("option", { value: t.code, text: t.label + "（" + t.code + "）", selected: t.code === f.type }));
        if (!ctx.vocab.types.some((t) => t.code === f.type)) type.append(el("option", { value: f.type, text: f.type, selected: true }));
        type.addEventListener("change", () => { f.type = type.value; commit(); });
        const optional = el("input", { type: "checkbox", checked: !!f.optional, "aria-label": f.name + " 可不填" });
        optional.addEventListener("change", () => { f.optional = optional.checked; commit(); });
        const remove = el("button", { type: "button", class: "small", text: "删除", "aria-label": "删除数据字段 " + f.name,
          onclick: () => { m.data.splice(i, 1); commit(); } });
        dataBody.append(el("tr", { "data-field": f.name }, el("td", {}, el("span", { text: f.name }), errorsUnder("/data/" + i, [])),
          el("td", {}, type), el("td", {}, optional), el("td", {}, remove)));
      });
      dataTable.append(dataBody);
      const newField = el("input", { "aria-label": "新数据字段名", placeholder: "如 refund_amount", style: "width:9em" });
      const newType = el("select", { "aria-label": "新数据字段类型" });
      for (const t of ctx.vocab.types) newType.append(el("option", { value: t.code, text: t.label }));
      box.append(dataTable, el("div", { class: "toolbar" }, newField, newType,
        el("button", { type: "button", class: "small", text: "添加字段", onclick: () => {
          const name = newField.value.trim();
          if (name) { m.data.push({ name, type: newType.value, optional: true }); commit(); }
        } })));

      // ------------------------------------------------ states
      box.append(el("h4", { text: "状态" }));
      const states = el("table", { "aria-label": "状态" },
        el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "状态" }), el("th", { scope: "col", text: "负责人" }),
          el("th", { scope: "col", text: "时限（小时）" }), el("th", { scope: "col", text: "终态" }), el("th", { scope: "col", text: "操作" }))));
      const sbody = el("tbody");
      m.states.forEach((st, i) => {
        const owner = el("select", { "aria-label": st.name + " 的负责人" }, el("option", { value: "", text: st.final ? "（终态）" : "（无）" }));
        for (const o of ctx.vocab.owners) owner.append(el("option", { value: o, text: o, selected: st.owner === o }));
        if (st.owner && !ctx.vocab.owners.includes(st.owner)) owner.append(el("option", { value: st.owner, text: st.owner, selected: true }));
        owner.addEventListener("change", () => { st.owner = owner.value; commit(); });
        const hours = el("input", { class: "num", type: "number", min: "0", step: "1", value: st.deadline ? st.deadline / 3600 : "",
          "aria-label": st.name + " 的时限（小时）", disabled: !!st.final });
        hours.addEventListener("change", () => { const h = parseFloat(hours.value); st.deadline = h > 0 ? Math.round(h * 3600) : 0; commit(); });
        const final = el("input", { type: "checkbox", checked: !!st.final, "aria-label": st.name + " 为终态" });
        final.addEventListener("change", () => { st.final = final.checked; if (st.final) st.deadline = 0; commit(); });
        const remove = el("button", { type: "button", class: "small", text: "删除", "aria-label": "删除状态 " + st.name,
          onclick: () => { m.states.splice(i, 1); commit(); } });
        sbody.append(el("tr", { "data-state": st.name },
          el("td", {}, el("span", { text: st.name }), errorsFor("/states/" + i, null)),
          el("td", {}, owner, errorsFor("/states/" + i + "/owner", owner)), el("td", {}, hours),
          el("td", {}, final), el("td", {}, remove)));
      });
      states.append(sbody);
      const newState = el("input", { "aria-label": "新状态名称", placeholder: "如 待复核", style: "width:9em" });
      const newOwner = el("select", { "aria-label": "新状态的负责人" }, el("option", { value: "", text: "（无）" }));
      for (const o of ctx.vocab.owners) newOwner.append(el("option", { value: o, text: o }));
      box.append(states, el("div", { class: "toolbar" }, newState, newOwner,
        el("button", { type: "button", class: "small", text: "添加状态", onclick: () => {
          const name = newState.value.trim();
          if (name) { m.states.push({ name, owner: newOwner.value, deadline: 0, final: false }); commit(); }
        } })));

      // ------------------------------------------------ actions
      box.append(el("h4", { text: "动作" }));
      m.actions.forEach((a, i) => box.append(actionEditor(a, i)));
      const newAction = el("input", { "aria-label": "新动作名称", placeholder: "如 复核通过", style: "width:9em" });
      box.append(el("div", { class: "toolbar" }, newAction,
        el("button", { type: "button", class: "small", text: "添加动作", onclick: () => {
          const name = newAction.value.trim();
          if (!name) return;
          const from = m.initial || (m.states[0] && m.states[0].name) || "";
          const to = (m.states.find((s) => s.name !== from) || { name: from }).name;
          m.actions.push({ name, from: from ? [from] : [], to, by: [], requires: [], when: "", via: "", effects: [] });
          commit();
        } })));
      if (m.kept) box.append(el("p", { class: "muted", text: "另有 " + m.kept + " 行超时处理或状态迁移，请在规则文本中修改。" }));

      // ------------------------------------------------ diagram
      const diagram = el("div", { class: "diagram", role: "img", "aria-label": m.name + " 泳道图（按负责人）" });
      diagram.innerHTML = m.svg || "";
      box.append(el("h4", { text: "泳道图" }), diagram);
      host.append(box);

      function actionEditor(a, i) {
        const path = "/actions/" + i;
        const set = el("fieldset", { class: "action", "data-action": a.name });
        set.append(el("legend", { text: "动作 " + a.name }));
        const shown = [];
        const field = (key, label, control) => {
          shown.push(path + "/" + key);
          return el("span", { class: "cell" }, el("span", { class: "muted", text: label }), control, errorsFor(path + "/" + key, control));
        };
        const from = el("input", { value: listText(a.from), "aria-label": a.name + " 的起始状态", style: "width:9em" });
        from.addEventListener("change", () => { a.from = parseList(from.value); commit(); });
        const to = el("select", { "aria-label": a.name + " 的目标状态" });
        for (const st of m.states) to.append(el("option", { value: st.name, text: st.name, selected: st.name === a.to }));
        if (!m.states.some((s) => s.name === a.to)) to.append(el("option", { value: a.to, text: a.to, selected: true }));
        to.addEventListener("change", () => { a.to = to.value; commit(); });
        const by = el("input", { value: listText(a.by), "aria-label": a.name + " 的执行角色", placeholder: a.via ? "回调 " + a.via : "所有角色", style: "width:8em" });
        by.addEventListener("change", () => { a.by = parseList(by.value); commit(); });
        const via = el("select", { "aria-label": a.name + " 的回调" }, el("option", { value: "", text: "（无，手动执行）" }));
        for (const h of ctx.vocab.hooks) via.append(el("option", { value: h, text: h, selected: h === a.via }));
        if (a.via && !ctx.vocab.hooks.includes(a.via)) via.append(el("option", { value: a.via, text: a.via, selected: true }));
        via.addEventListener("change", () => { a.via = via.value; commit(); });
        set.append(el("div", { class: "toolbar" }, field("from", "从", from), field("to", "到", to), field("by", "执行角色", by), field("via", "回调", via)));

        // requires: one checkbox per data field (and any required name the data lacks)
        shown.push(path + "/requires");
        const names = m.data.map((f) => f.name);
        for (const r of a.requires) if (!names.includes(r)) names.push(r);
        const requires = el("div", { class: "toolbar", role: "group", "aria-label": a.name + " 需要填写的字段" }, el("span", { class: "muted", text: "需要填写" }));
        for (const n of names) {
          const box = el("input", { type: "checkbox", id: nextId("mf-req"), checked: a.requires.includes(n), "aria-label": a.name + " 需要填写 " + n });
          box.addEventListener("change", () => {
            a.requires = box.checked ? [...a.requires, n] : a.requires.filter((x) => x !== n);
            commit();
          });
          requires.append(el("span", { class: "cell" }, box, el("label", { for: box.id, text: n })));
        }
        if (!names.length) requires.append(el("span", { class: "muted", text: "（先添加数据字段）" }));
        set.append(requires);
        const requiresErrors = errorsFor(path + "/requires", requires);
        if (requiresErrors) set.append(requiresErrors);

        const when = el("input", { value: a.when, "aria-label": a.name + " 的条件", placeholder: "可不填，如 qc_result == \"合格\"", style: "width:22em" });
        when.addEventListener("change", () => { a.when = when.value; commit(); });
        set.append(el("div", { class: "toolbar" }, field("when", "条件", when)));

        // effects
        a.effects.forEach((e, k) => set.append(effectEditor(a, e, k, shown)));
        const kinds = el("select", { "aria-label": a.name + " 新效果的类型" });
        for (const k of ctx.vocab.effect_kinds) kinds.append(el("option", { value: k.code, text: k.label }));
        set.append(el("div", { class: "toolbar" }, kinds,
          el("button", { type: "button", class: "small", text: "添加效果", "aria-label": "为 " + a.name + " 添加效果", onclick: () => {
            a.effects.push(newEffect(kinds.value)); commit();
          } }),
          el("button", { type: "button", class: "small", text: "删除动作", "aria-label": "删除动作 " + a.name, onclick: () => {
            m.actions.splice(i, 1); commit();
          } })));
        const rest = errorsUnder(path, shown);
        if (rest) set.append(rest);
        return set;
      }

      function newEffect(kind) {
        if (kind === "notify") return { kind, channel: ctx.vocab.notify_channels[0] || "", to: "", message: "工单 {id} 已处理" };
        if (kind === "call") {
          const c = ctx.vocab.call_channels[0] || { name: "", operations: [""] };
          return { kind, channel: c.name, operation: c.operations[0], args: "" };
        }
        return { kind: "archive", target: (ctx.vocab.archive_targets[0] || { code: "" }).code };
      }

      function effectEditor(a, e, k, shown) {
        const path = "/actions/" + m.actions.indexOf(a) + "/effects/" + k;
        shown.push(path);
        const label = a.name + " 效果" + (k + 1);
        const row = el("div", { class: "toolbar effect", "data-effect": String(k) }, el("span", { class: "muted", text: "然后" }));
        const kind = el("select", { "aria-label": label + " 类型" });
        for (const x of ctx.vocab.effect_kinds) kind.append(el("option", { value: x.code, text: x.label, selected: x.code === e.kind }));
        if (e.kind === "kept") kind.append(el("option", { value: "kept", text: "其他", selected: true }));
        kind.addEventListener("change", () => { a.effects[k] = newEffect(kind.value); commit(); });
        row.append(kind);
        const input = (key, what, attrs) => {
          const node = el("input", Object.assign({ value: e[key] || "", "aria-label": label + " " + what }, attrs || {}));
          node.addEventListener("change", () => { e[key] = node.value; commit(); });
          return node;
        };
        const pick = (key, what, options) => {
          const node = el("select", { "aria-label": label + " " + what });
          for (const o of options) node.append(el("option", { value: o.value, text: o.text, selected: o.value === e[key] }));
          if (e[key] && !options.some((o) => o.value === e[key])) node.append(el("option", { value: e[key], text: e[key], selected: true }));
          node.addEventListener("change", () => {
            e[key] = node.value;
            if (key === "channel" && e.kind === "call") {
              const c = ctx.vocab.call_channels.find((x) => x.name === node.value);
              e.operation = c ? c.operations[0] : e.operation;
            }
            commit();
          });
          return node;
        };
        if (e.kind === "notify") {
          row.append(pick("channel", "渠道", ctx.vocab.notify_channels.map((c) => ({ value: c, text: c }))),
            input("to", "接收人", { placeholder: "可不填，如 consumer_phone", style: "width:9em" }),
            input("message", "通知内容", { style: "width:16em" }));
        } else if (e.kind === "call") {
          const c = ctx.vocab.call_channels.find((x) => x.name === e.channel);
          row.append(pick("channel", "渠道", ctx.vocab.call_channels.map((x) => ({ value: x.name, text: x.name }))),
            pick("operation", "操作", (c ? c.operations : []).map((o) => ({ value: o, text: o }))),
            input("args", "参数", { placeholder: "如 order_id", style: "width:9em" }));
        } else if (e.kind === "archive") {
          row.append(pick("target", "归档目标", ctx.vocab.archive_targets.map((t) => ({ value: t.code, text: t.label + "（" + t.code + "）" }))));
        } else {
          row.append(el("code", { text: e.text }), el("span", { class: "muted", text: "（请在规则文本中修改）" }));
        }
        row.append(el("button", { type: "button", class: "small", text: "删除效果", "aria-label": "删除 " + label, onclick: () => {
          a.effects.splice(k, 1); commit();
        } }));
        const errs = errorsUnder(path, []);
        return errs ? el("div", {}, row, errs) : row;
      }
    }
  }

  window.OPMachineForm = { render };
})();
