// The ruleset workspace: the DSL editor (live check, format, save with Ctrl+S), the promotion
// form editing the same model (each form edit is written into the text by the server as a
// targeted change), and 试算. All rule logic runs on the server; this script only calls it.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("workspace-data").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const base = "/rulesets/" + encodeURIComponent(data.name);
  const $ = (id) => document.getElementById(id);
  let revision = data.revision;
  let savedText = data.content;
  let forms = data.forms;
  let mappings = data.mappings;
  let machines = data.machines;
  let machineVocab = data.machine_vocabulary;
  let machineErrors = {}; // machine name → {row path: [message]} for rows the server refused
  let refusedText = null; // the text those rows were refused against
  let formBusy = false;
  let formQueue = Promise.resolve(); // form edits go to the server one after another
  let formsPending = 0;
  const vocab = data.vocabulary;

  async function call(method, url, body) {
    const resp = await fetch(url, {
      method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const type = resp.headers.get("Content-Type") || "";
    const payload = type.includes("json") ? await resp.json() : await resp.text();
    return { ok: resp.ok, status: resp.status, payload };
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }

  // ------------------------------------------------------------------ editor and live check
  let checkTimer = null;
  const editor = OPEditor.mount($("editor"), {
    doc: data.content, label: "规则文本", readOnly: !data.may_edit,
    onChange: () => { markDirty(); clearTimeout(checkTimer); checkTimer = setTimeout(runCheck, 350); },
    onSave: () => saveDraft(), onFormat: () => formatText(),
  });

  function markDirty() {
    const status = $("save-status");
    if (status) status.textContent = editor.getText() === savedText ? "" : "有未保存的修改";
  }

  function showProblems(problems) {
    const body = $("check-body");
    body.replaceChildren();
    if (!problems.length) { body.append(el("p", { class: "ok", text: "没有发现问题" })); }
    else {
      const list = el("ul");
      for (const p of problems) {
        list.append(el("li", { class: p.severity === "error" ? "error" : "muted", text: p.where + "：" + p.message }));
      }
      body.append(list);
    }
    editor.showProblems(problems);
  }

  async function runCheck() {
    const text = editor.getText();
    const r = await call("POST", base + "/live", { content: text });
    if (text !== editor.getText()) return; // typed on meanwhile; the next check answers
    if (!r.ok) { $("check-body").replaceChildren(el("p", { class: "error", text: r.payload.error ? r.payload.error.message : "检查失败" })); return; }
    showProblems(r.payload.problems);
    document.dispatchEvent(new CustomEvent("op:checked", { detail: { ok: r.payload.ok } }));
    // Redraw a form only when the text changed what it shows (an edit made in the form already
    // shows; redrawing would drop a choice being made, such as a picked but not yet added effect).
    const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
    const formsChanged = !same(forms, r.payload.forms);
    forms = r.payload.forms;
    if (formsChanged && !formBusy && !$("promotion-forms").contains(document.activeElement)) renderForms();
    const mappingsChanged = !same(mappings, r.payload.mappings);
    mappings = r.payload.mappings;
    if (mappingsChanged && !formBusy && !$("mapping-tables").contains(document.activeElement)) renderMappings();
    // a form edit the server refused stays shown with its reason until the text itself changes:
    // a check of the text it was refused against (answering late) brings nothing new
    if (text === refusedText && Object.keys(machineErrors).length) return;
    const machinesChanged = !same(machines, r.payload.machines) || !same(machineVocab, r.payload.machine_vocabulary);
    machines = r.payload.machines;
    machineVocab = r.payload.machine_vocabulary;
    if (machinesChanged && !formBusy && !$("machine-forms").contains(document.activeElement)) { machineErrors = {}; renderMachines(); }
  }

  async function saveDraft() {
    if (!data.may_edit) return;
    const text = editor.getText();
    const r = await call("PUT", "/api/v1/rulesets/" + encodeURIComponent(data.name) + "/draft", { content: text, revision });
    const status = $("save-status");
    if (r.ok) {
      revision = r.payload.revision; savedText = text;
      $("revision").textContent = revision; $("publish-revision").value = revision;
      status.textContent = "已保存（修订 " + revision + "）";
    } else if (r.status === 409) {
      status.textContent = "保存失败：草稿已被其他人修改，请复制你的修改后刷新页面";
    } else {
      status.textContent = "保存失败：" + (r.payload.error ? r.payload.error.message : r.status);
    }
  }

  async function formatText() {
    const r = await call("POST", base + "/format", { content: editor.getText() });
    if (r.ok) editor.setText(r.payload.content);
    else { showProblems(r.payload.error.details || []); }
  }

  if ($("btn-check")) $("btn-check").addEventListener("click", runCheck);
  if ($("btn-format")) $("btn-format").addEventListener("click", formatText);
  if ($("btn-save")) $("btn-save").addEventListener("click", saveDraft);
  document.addEventListener("keydown", (e) => {
    if (!e.defaultPrevented && (e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "s") { e.preventDefault(); saveDraft(); }
  });
  const publishForm = $("publish-form");
  if (publishForm) publishForm.addEventListener("submit", (e) => {
    if (editor.getText() !== savedText && !confirm("规则文本有未保存的修改。发布的是已保存的草稿，仍要发布吗？")) e.preventDefault();
  });

  // ------------------------------------------------------------------ 试算
  $("btn-simulate").addEventListener("click", async () => {
    const region = $("sim-results");
    region.textContent = "计算中…";
    const r = await call("POST", base + "/simulate", { content: editor.getText(), order: $("sample-order").value });
    region.innerHTML = typeof r.payload === "string" ? r.payload : (r.payload.error ? r.payload.error.message : "试算失败");
  });

  // ------------------------------------------------------------------ promotion form
  const PICKS = [["best", "择优"], ["first", "取首个"], ["all", "全部叠加"]];
  const UNIT = { money: "¥", percent: "%", count: "件" };
  const fieldOf = (path, fields) => (fields || vocab.fields).find((f) => f.path === path.join("."));
  const SET_OPS = [["in", "属于"], ["not in", "不属于"]];
  const MODES = [["and", "全部满足"], ["or", "任一满足"]];

  // A condition the form can show: comparisons of a known field with a value, or a known field
  // in / not in a list of values, all joined by one "and" or one "or". Anything else → null.
  function simpleConditions(when, fields) {
    if (!when) return { mode: "and", parts: [] };
    const mode = when.kind === "boolop" ? when.op : "and";
    const parts = when.kind === "boolop" ? when.operands : [when];
    for (const p of parts) {
      if (p.kind === "compare" && p.left.kind === "name" && p.right.kind === "literal" && fieldOf(p.left.path, fields)) continue;
      if (p.kind === "in" && p.item.kind === "name" && p.container.kind === "list" && fieldOf(p.item.path, fields)
          && p.container.items.every((x) => x.kind === "literal")) continue;
      return null;
    }
    return { mode, parts };
  }

  function joinConditions(cond) {
    if (!cond.parts.length) return undefined;
    return cond.parts.length === 1 ? cond.parts[0] : { kind: "boolop", op: cond.mode, operands: cond.parts };
  }

  function literalFor(unit, input) {
    const raw = input.trim();
    if (unit === "money") return { kind: "literal", value: Math.round(parseFloat(raw || "0") * 100), unit: "money" };
    if (unit === "percent") return { kind: "literal", value: Math.round(parseFloat(raw || "0") * 100), unit: "percent" };
    if (unit === "count") return { kind: "literal", value: parseInt(raw || "0", 10), unit: "count" };
    if (unit === "bool") return { kind: "literal", value: raw === "true" || raw === "是", unit: "bool" };
    return { kind: "literal", value: raw, unit: "text" };
  }

  function literalText(lit) {
    if (lit.unit === "money" || lit.unit === "percent") return String(lit.value / 100);
    return String(lit.value);
  }

  // The condition builder: rows of 字段 · 运算符 · 值 (with its unit), joined by 全部满足 / 任一满足.
  // ``fields`` is the vocabulary (order fields for a rule, line fields for "on lines where").
  function conditionEditor(owner, key, label, commit, fields) {
    fields = fields || vocab.fields;
    const cond = simpleConditions(owner[key], fields);
    const box = el("div", { class: "conditions" });
    if (cond === null) {
      box.append(el("p", { class: "muted", text: label + "：条件较复杂（嵌套或含计算），请在规则文本中修改" }));
      return box;
    }
    const save = (rerender) => { owner[key] = joinConditions(cond); commit(rerender); };
    if (cond.parts.length > 1) {
      const mode = el("select", { "aria-label": label + "满足方式" });
      for (const [v, text] of MODES) mode.append(el("option", { value: v, text, selected: v === cond.mode }));
      mode.addEventListener("change", () => { cond.mode = mode.value; save(true); });
      box.append(el("div", { class: "toolbar" }, el("span", { text: label }), mode));
    }
    cond.parts.forEach((c, i) => {
      const isSet = c.kind === "in";
      const path = isSet ? c.item.path : c.left.path;
      const f = fieldOf(path, fields);
      const fieldSel = el("select", { "aria-label": label + "字段" });
      for (const v of fields) fieldSel.append(el("option", { value: v.path, selected: v.path === f.path, text: v.label }));
      const opSel = el("select", { "aria-label": label + "运算符" });
      const current = isSet ? (c.negated ? "not in" : "in") : c.op;
      for (const o of [...vocab.operators.map((x) => [x.op, x.label]), ...SET_OPS]) opSel.append(el("option", { value: o[0], selected: o[0] === current, text: o[1] }));
      const shown = isSet ? c.container.items.map(literalText).join("、") : literalText(c.right);
      const value = el("input", { class: isSet ? "" : "num", value: shown, "aria-label": label + "值", style: isSet ? "width:12em" : undefined,
        placeholder: isSet ? "多个值用、分隔" : undefined });
      const unit = el("span", { class: "unit", text: UNIT[f.unit] || "" });
      const update = () => {
        const nf = fields.find((v) => v.path === fieldSel.value);
        const name = { kind: "name", path: nf.path.split(".") };
        const next = opSel.value === "in" || opSel.value === "not in"
          ? { kind: "in", item: name, negated: opSel.value === "not in",
              container: { kind: "list", items: value.value.split(/[、,，]/).map((x) => x.trim()).filter(Boolean).map((x) => literalFor(nf.unit, x)) } }
          : { kind: "compare", op: opSel.value, left: name, right: literalFor(nf.unit, value.value.split(/[、,，]/)[0] || "") };
        cond.parts[i] = next;
        save(isSet !== (next.kind === "in"));
      };
      fieldSel.addEventListener("change", update); opSel.addEventListener("change", update);
      value.addEventListener("change", update);
      const remove = el("button", { type: "button", class: "small", text: "删除条件", onclick: () => { cond.parts.splice(i, 1); save(true); } });
      const lead = fields === vocab.fields ? "当" : "仅限商品";
      const joiner = i === 0 ? lead : cond.mode === "or" ? "或者" : "并且";
      box.append(el("div", { class: "toolbar" }, el("span", { text: joiner }), fieldSel, opSel, value, unit, remove));
    });
    box.append(el("button", { type: "button", class: "small", text: "添加条件", "aria-label": label + "：添加条件", onclick: () => {
      const first = fields[0];
      cond.parts.push({ kind: "compare", op: first.unit === "text" ? "!=" : ">=", left: { kind: "name", path: first.path.split(".") },
        right: literalFor(first.unit, first.unit === "text" ? "" : "0") });
      save(true);
    } }));
    return box;
  }

  function discountEditor(rule, commit) {
    const d = rule.discount;
    if (d.kind === "amount_off" && d.amount.kind === "literal") {
      const input = el("input", { class: "num", type: "number", step: "0.01", min: "0", value: d.amount.value / 100, "aria-label": "减免金额（元）" });
      input.addEventListener("change", () => { d.amount = { kind: "literal", value: Math.round(parseFloat(input.value || "0") * 100), unit: "money" }; commit(); });
      return el("span", {}, el("span", { text: "减 " }), el("span", { class: "unit", text: "¥" }), input);
    }
    if (d.kind === "percent_off") {
      const input = el("input", { class: "num", type: "number", step: "0.1", min: "0", max: "100", value: d.percent / 100, "aria-label": "折扣比例（%）" });
      input.addEventListener("change", () => { d.percent = Math.round(parseFloat(input.value || "0") * 100); commit(); });
      return el("span", {}, el("span", { text: "优惠 " }), input, el("span", { class: "unit", text: "%" }));
    }
    return el("span", { class: "muted", text: "其他优惠方式（" + d.kind + "），请在规则文本中修改" });
  }

  function tierOrder(model) {
    return model.order && model.order.length ? model.order.slice() : model.tiers.map((t) => t.name);
  }

  function renderPromotion(form) {
    const model = JSON.parse(JSON.stringify(form.model));
    const commit = (rerender) => applyForm(form, model, rerender);
    const wrap = el("div", { class: "promotion" });
    wrap.append(el("h3", { text: (model.title || model.name) + "（" + model.name + "）" }));
    const order = tierOrder(model);
    const byName = Object.fromEntries(model.tiers.map((t) => [t.name, t]));
    const list = el("div", { class: "tiers", role: "list", "aria-label": "优惠层（按优先级）" });
    const move = (from, to) => {
      if (to < 0 || to >= order.length) return;
      const [name] = order.splice(from, 1); order.splice(to, 0, name);
      model.order = order; commit(true);
    };
    order.forEach((name, index) => {
      const tier = byName[name];
      if (!tier) return;
      const title = tier.title || tier.name;
      const box = el("div", { class: "tier", role: "listitem", draggable: "true", "data-tier": name, "aria-label": "第 " + (index + 1) + " 层 " + title });
      box.addEventListener("dragstart", (e) => { e.dataTransfer.setData("text/plain", String(index)); box.classList.add("dragging"); });
      box.addEventListener("dragend", () => box.classList.remove("dragging"));
      box.addEventListener("dragover", (e) => e.preventDefault());
      box.addEventListener("drop", (e) => { e.preventDefault(); move(parseInt(e.dataTransfer.getData("text/plain"), 10), index); });
      const pick = el("select", { "aria-label": title + " 选择方式" });
      for (const [v, label] of PICKS) pick.append(el("option", { value: v, selected: (tier.pick || "all") === v, text: label }));
      pick.addEventListener("change", () => { tier.pick = pick.value; commit(); });
      box.append(el("div", { class: "toolbar" },
        el("strong", { text: "第 " + (index + 1) + " 层 · " + title }),
        el("label", { text: "选择方式" }), pick,
        el("button", { type: "button", class: "small", text: "上移", "aria-label": "上移 " + title, disabled: index === 0, onclick: () => move(index, index - 1) }),
        el("button", { type: "button", class: "small", text: "下移", "aria-label": "下移 " + title, disabled: index === order.length - 1, onclick: () => move(index, index + 1) })));
      tier.rules.forEach((rule, ri) => {
        const nameInput = el("input", { class: "name", value: rule.name, "aria-label": "规则名称" });
        nameInput.addEventListener("change", () => { rule.name = nameInput.value.trim() || rule.name; commit(); });
        const row = el("div", { class: "rule", "data-rule": rule.name });
        row.append(el("div", { class: "toolbar" }, el("span", { text: "规则" }), nameInput, discountEditor(rule, commit),
          el("button", { type: "button", class: "small", text: "删除规则", "aria-label": "删除规则 " + rule.name, onclick: () => { tier.rules.splice(ri, 1); commit(true); } })));
        row.append(conditionEditor(rule, "when", "条件", commit));
        row.append(linesWhere(rule, commit));
        box.append(row);
      });
      box.append(el("button", { type: "button", class: "small", text: "添加规则", "aria-label": "在 " + title + " 添加规则", onclick: () => {
        tier.rules.push({ name: "新规则" + (tier.rules.length + 1), discount: { kind: "amount_off", amount: { kind: "literal", value: 1000, unit: "money" }, split_by: "amount" },
          when: { kind: "compare", op: ">=", left: { kind: "name", path: ["current_total"] }, right: { kind: "literal", value: 10000, unit: "money" } } });
        commit(true);
      } }));
      list.append(box);
    });
    wrap.append(list);
    const gifts = model.gifts || [];
    if (gifts.length) {
      wrap.append(el("h3", { text: "赠品" }));
      gifts.forEach((g) => {
        const box = el("div", { class: "tier" }, el("strong", { text: g.name }));
        g.items.forEach((item) => {
          const sku = el("input", { value: item.sku, "aria-label": "赠品 SKU" });
          const qty = el("input", { class: "num", type: "number", min: "1", value: item.qty || 1, "aria-label": "赠品数量（件）" });
          sku.addEventListener("change", () => { item.sku = sku.value.trim(); commit(); });
          qty.addEventListener("change", () => { item.qty = parseInt(qty.value || "1", 10); commit(); });
          box.append(el("div", { class: "toolbar" }, el("span", { text: "赠送" }), sku, qty, el("span", { class: "unit", text: "件" })));
        });
        box.append(conditionEditor(g, "when", "赠品条件", commit));
        wrap.append(box);
      });
    }
    wrap.append(priceCheckEditor(model, commit));
    wrap.append(freightEditor(model, commit));
    return wrap;
  }

  // 核价容差 (price_check tolerance ¥X or P%): empty inputs leave that part out; both empty
  // removes the declaration (then any shortfall counts as 价格异常)
  function priceCheckEditor(model, commit) {
    const check = model.price_check || {};
    const box = el("div", { class: "tier price-check" }, el("strong", { text: "核价容差" }));
    const amount = el("input", { class: "num", type: "number", step: "0.01", min: "0", value: check.amount != null ? check.amount / 100 : "", "aria-label": "核价容差金额（元）" });
    const percent = el("input", { class: "num", type: "number", step: "0.01", min: "0", max: "100", value: check.percent != null ? check.percent / 100 : "", "aria-label": "核价容差比例（%）" });
    const update = () => {
      const next = {};
      if (amount.value.trim() !== "") next.amount = Math.round(parseFloat(amount.value) * 100);
      if (percent.value.trim() !== "") next.percent = Math.round(parseFloat(percent.value) * 100);
      if (Object.keys(next).length) model.price_check = next; else delete model.price_check;
      commit();
    };
    amount.addEventListener("change", update); percent.addEventListener("change", update);
    box.append(el("div", { class: "toolbar" }, el("span", { text: "实收比本促销少" }), el("span", { class: "unit", text: "¥" }), amount,
      el("span", { text: "或" }), percent, el("span", { class: "unit", text: "%" }), el("span", { text: "以内（取大）不算价格异常" })));
    return box;
  }

  // Which lines a discount applies to ("on lines where …"), folded away until opened; it stays
  // open across the form's redraws.
  const openLines = new Set();
  function linesSummary(d) {
    const cond = simpleConditions(d.lines_where, vocab.line_fields);
    const ops = Object.fromEntries(vocab.operators.map((o) => [o.op, o.label]));
    if (!d.lines_where) return "全部商品";
    if (cond === null) return "条件较复杂";
    return cond.parts.map((c) => {
      const f = fieldOf(c.kind === "in" ? c.item.path : c.left.path, vocab.line_fields);
      const op = c.kind === "in" ? (c.negated ? "不属于" : "属于") : ops[c.op];
      const value = c.kind === "in" ? c.container.items.map(literalText).join("、") : literalText(c.right);
      return f.label + " " + op + " " + value;
    }).join(cond.mode === "or" ? " 或 " : " 且 ");
  }

  function linesWhere(rule, commit) {
    const d = rule.discount;
    const summary = el("summary", { text: "适用商品：" + linesSummary(d) });
    const box = el("details", { class: "lines-where", open: openLines.has(rule.name) }, summary);
    box.addEventListener("toggle", () => { if (box.open) openLines.add(rule.name); else openLines.delete(rule.name); });
    box.append(conditionEditor(d, "lines_where", "适用商品", (rerender) => {
      summary.textContent = "适用商品：" + linesSummary(d);
      commit(rerender);
    }, vocab.line_fields));
    return box;
  }

  // 运费模板: base freight, the free-shipping threshold, and per-region overrides, in yuan.
  function freightEditor(model, commit) {
    const box = el("div", { class: "tier freight" }, el("h3", { text: "运费模板" }));
    model.freight = model.freight || [];
    const yuanInput = (owner, key, label, optional) => {
      const input = el("input", { class: "num", type: "number", step: "0.01", min: "0", "aria-label": label,
        value: owner[key] === undefined || owner[key] === null ? "" : owner[key] / 100, placeholder: optional ? "不包邮" : undefined });
      input.addEventListener("change", () => {
        const v = input.value.trim();
        if (v === "" && optional) delete owner[key];
        else owner[key] = Math.round(parseFloat(v || "0") * 100);
        commit();
      });
      return input;
    };
    model.freight.forEach((f, fi) => {
      const part = el("div", { class: "freight-template", "data-freight": f.name });
      part.append(el("div", { class: "toolbar" }, el("strong", { text: f.name }),
        el("span", { text: "运费" }), el("span", { class: "unit", text: "¥" }), yuanInput(f, "base", f.name + " 运费（元）"),
        el("span", { text: "满" }), el("span", { class: "unit", text: "¥" }), yuanInput(f, "free_over", f.name + " 包邮门槛（元）", true),
        el("span", { text: "包邮" }),
        el("button", { type: "button", class: "small", text: "删除模板", "aria-label": "删除运费模板 " + f.name, onclick: () => { model.freight.splice(fi, 1); commit(true); } })));
      const table = el("table", { "aria-label": f.name + " 的地区运费" },
        el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "地区" }), el("th", { scope: "col", text: "运费（元）" }),
          el("th", { scope: "col", text: "包邮门槛（元）" }), el("th", { scope: "col", text: "操作" }))));
      const tbody = el("tbody");
      (f.regions || []).forEach((r, ri) => {
        const label = r.regions.join("、");
        const names = el("input", { value: label, "aria-label": "地区（" + label + "）", style: "width:10em" });
        names.addEventListener("change", () => { r.regions = names.value.split(/[、,，\s]+/).map((x) => x.trim()).filter(Boolean); commit(true); });
        tbody.append(el("tr", { "data-regions": label }, el("td", {}, names), el("td", {}, yuanInput(r, "base", label + " 运费（元）")),
          el("td", {}, yuanInput(r, "free_over", label + " 包邮门槛（元）", true)),
          el("td", {}, el("button", { type: "button", class: "small", text: "删除", "aria-label": "删除地区运费 " + label, onclick: () => { f.regions.splice(ri, 1); commit(true); } }))));
      });
      table.append(tbody);
      const newRegions = el("input", { "aria-label": f.name + " 新地区", placeholder: "如 内蒙古、海南", style: "width:10em" });
      part.append(table, el("div", { class: "toolbar" }, newRegions,
        el("button", { type: "button", class: "small", text: "添加地区运费", "aria-label": "为 " + f.name + " 添加地区运费", onclick: () => {
          const regions = newRegions.value.split(/[、,，\s]+/).map((x) => x.trim()).filter(Boolean);
          if (!regions.length) return;
          f.regions = f.regions || [];
          f.regions.push({ regions, base: f.base, free_over: f.free_over });
          commit(true);
        } })));
      box.append(part);
    });
    if (!model.freight.length) {
      box.append(el("p", { class: "muted", text: "没有运费模板：订单不收运费。" }), el("button", { type: "button", class: "small", text: "添加运费模板", onclick: () => {
        model.freight.push({ name: "标准运费", base: 800, free_over: 9900, regions: [] });
        commit(true);
      } }));
    }
    return box;
  }

  // ------------------------------------------------------------------ alert and risk thresholds
  const FUNC_ZH = { count: "数量", distinct: "不同值个数", sum: "合计", avg: "平均", min: "最小", max: "最大" };
  const COLLECTION_ZH = { orders: "订单", returns: "退货", tickets: "工单" };
  const NAME_ZH = { change_vs_previous: "环比变化", change: "变化", value: "当期数值", previous: "上期数值" };

  function describe(node) {
    if (node.kind === "name") { const f = fieldOf(node.path); return f ? f.label : (NAME_ZH[node.path.join(".")] || node.path.join(".")); }
    if (node.kind === "aggregate") {
      let text = (COLLECTION_ZH[node.collection] || node.collection) + (node.of ? " " + node.of.path.join(".") : "") + " " + (FUNC_ZH[node.func] || node.func);
      if (node.by) text += "（按 " + node.by.path.join(".") + "）";
      return text;
    }
    return "表达式";
  }

  function thresholdFields(when, out) {
    if (!when) return out;
    if (when.kind === "boolop") { for (const o of when.operands) thresholdFields(o, out); return out; }
    if (when.kind === "not") return thresholdFields(when.operand, out);
    if (when.kind === "compare" && when.right.kind === "literal" && typeof when.right.value === "number") out.push(when);
    return out;
  }

  function renderThresholds(form) {
    const model = JSON.parse(JSON.stringify(form.model));
    const commit = () => applyForm(form, model, false);
    const box = el("div", { class: "tier" }, el("h3", { text: (form.kind === "alert" ? "预警 " : "风控 ") + model.name }));
    const ops = Object.fromEntries(vocab.operators.map((o) => [o.op, o.label]));
    for (const c of thresholdFields(model.when, [])) {
      const what = describe(c.left);
      const unit = c.right.unit;
      const scaled = unit === "percent" || unit === "money";
      const input = el("input", { class: "num", type: "number", step: scaled ? "0.01" : "1", value: scaled ? c.right.value / 100 : c.right.value, "aria-label": what + " 阈值" });
      input.addEventListener("change", () => {
        const v = parseFloat(input.value || "0");
        c.right = { kind: "literal", value: scaled ? Math.round(v * 100) : Math.round(v), unit };
        commit();
      });
      const row = el("div", { class: "toolbar" }, el("span", { text: what + " " + (ops[c.op] || c.op) }));
      if (unit === "money") row.append(el("span", { class: "unit", text: "¥" }));
      row.append(input);
      if (unit === "percent") row.append(el("span", { class: "unit", text: "%" }));
      if (c.left.kind === "aggregate" && c.left.within) {
        const minutes = el("input", { class: "num", type: "number", min: "1", value: Math.round(c.left.within / 60), "aria-label": what + " 时间窗（分钟）" });
        minutes.addEventListener("change", () => { c.left.within = Math.max(1, parseInt(minutes.value || "1", 10)) * 60; commit(); });
        row.append(el("span", { text: "，时间窗" }), minutes, el("span", { class: "unit", text: "分钟" }));
      }
      box.append(row);
    }
    if (form.kind === "risk") {
      const hold = el("input", { type: "checkbox", id: "hold-" + model.name, checked: !!model.hold });
      hold.addEventListener("change", () => { model.hold = hold.checked; commit(); });
      box.append(el("div", { class: "toolbar" }, hold, el("label", { for: "hold-" + model.name, text: "命中后挂起订单（标记「" + model.flag + "」）" })));
    }
    return box;
  }

  // ------------------------------------------------------------------ machine form (machine_form.js)
  function renderMachines() {
    const host = $("machine-forms");
    if (!machines.length) { host.replaceChildren(); return; }
    OPMachineForm.render(host, machines, { el, vocab: machineVocab, errors: machineErrors, apply: applyMachine });
  }

  function applyMachine(name, rows) {
    formsPending += 1;
    formBusy = true;
    formQueue = formQueue.catch(() => {}).then(async () => {
      $("form-status").textContent = "";
      const r = await call("POST", base + "/machines/" + encodeURIComponent(name), { content: editor.getText(), machine: rows });
      if (r.ok) {
        machines = r.payload.machines;
        machineErrors = {};
        editor.setText(r.payload.content);
      } else {
        // keep what was typed, and say next to the field why it was not written
        const error = r.payload.error || {};
        const detail = (error.details || [])[0];
        const errors = {};
        if (detail && detail.path) errors[detail.path.replace(/^\/machine/, "")] = [error.message];
        machineErrors = { [name]: errors };
        refusedText = editor.getText();
        machines = machines.map((m) => (m.name === name ? rows : m));
        $("form-status").textContent = error.message || "状态机表单修改失败";
      }
      renderMachines();
    }).finally(() => { formsPending -= 1; formBusy = formsPending > 0; });
    return formQueue;
  }

  function renderForms() {
    const host = $("promotion-forms");
    host.replaceChildren();
    const shown = forms.filter((f) => f.kind !== "machine"); // machines: the machine form
    if (!shown.length && !machines.length) { host.append(el("p", { class: "muted", text: "规则文本中没有促销、状态机、预警或风控声明，或文本有语法错误。" })); return; }
    for (const f of shown) host.append(f.kind === "promotion" ? renderPromotion(f) : renderThresholds(f));
  }

  // Each edit is applied to the text the previous edit produced: two quick edits in different
  // forms must not both start from the same text (the later answer would undo the earlier edit).
  function applyForm(form, model, rerender) {
    formsPending += 1;
    formBusy = true;
    formQueue = formQueue.catch(() => {}).then(() => sendForm(form, model, rerender)).finally(() => {
      formsPending -= 1;
      formBusy = formsPending > 0;
    });
    return formQueue;
  }

  async function sendForm(form, model, rerender) {
    $("form-status").textContent = "";
    const r = await call("POST", base + "/forms/" + form.kind + "/" + encodeURIComponent(form.name), { content: editor.getText(), model });
    if (r.ok) {
      forms = r.payload.forms;
      editor.setText(r.payload.content);
      if (rerender) renderForms();
    } else {
      $("form-status").textContent = r.payload.error ? r.payload.error.message : "表单修改失败";
    }
  }

  if (data.may_edit) { renderForms(); renderMachines(); }

  // ------------------------------------------------------------------ mapping table and preview
  function currentMapping() {
    const pick = $("mapping-which");
    return pick ? pick.value : (mappings[0] ? mappings[0].name : "");
  }

  function renderMappings() {
    const host = $("mapping-tables");
    const chosen = currentMapping();
    host.replaceChildren();
    if (!mappings.length) { host.append(el("p", { class: "muted", text: "规则文本中没有映射声明，或文本有语法错误。" })); return; }
    const which = el("select", { id: "mapping-which", "aria-label": "映射（来源）" });
    for (const m of mappings) which.append(el("option", { value: m.name, text: m.name, selected: m.name === chosen }));
    which.addEventListener("change", () => { renderMappings(); loadSamples(); });
    host.append(el("div", { class: "field" }, which));
    const table = mappings.find((m) => m.name === which.value) || mappings[0];
    const grid = el("table", { class: "grid", "aria-label": "映射 " + table.name },
      el("thead", {}, el("tr", {}, el("th", { text: "订单字段" }), el("th", { text: "" }), el("th", { text: "来源路径或表达式" }), el("th", { text: "" }))));
    const body = el("tbody");
    const rows = table.rows.map((r) => ({ target: r.target, source: r.source }));
    const commit = () => applyMapping(table.name, rows);
    rows.forEach((row, i) => {
      const target = el("input", { value: row.target, "aria-label": "第 " + (i + 1) + " 行订单字段", readonly: !data.may_edit, style: "width:12em" });
      target.addEventListener("change", () => { row.target = target.value; commit(); });
      const source = el("input", { value: row.source, "aria-label": row.target + " 的来源", readonly: !data.may_edit, style: "width:100%" });
      source.addEventListener("change", () => { row.source = source.value; commit(); });
      const remove = data.may_edit ? el("button", { type: "button", class: "small", text: "删除", "aria-label": "删除 " + row.target,
        onclick: () => { rows.splice(i, 1); commit(); } }) : null;
      body.append(el("tr", { "data-target": row.target }, el("td", {}, target), el("td", { text: "←" }), el("td", {}, source,
        el("div", { class: "error mapping-failure", role: "status" })), el("td", {}, remove)));
    });
    grid.append(body);
    host.append(grid);
    if (data.may_edit) {
      host.append(el("button", { type: "button", class: "small", text: "添加字段", onclick: () => {
        const target = prompt("订单字段（例如 receiver.city）");
        const source = target ? prompt("来源路径或表达式（例如 receiver_city）") : null;
        if (target && source) { rows.push({ target, source }); commit(); }
      } }));
    }
  }

  function applyMapping(name, rows) {
    formsPending += 1;
    formBusy = true;
    formQueue = formQueue.catch(() => {}).then(async () => {
      $("mapping-status").textContent = "";
      const r = await call("POST", base + "/mappings/" + encodeURIComponent(name) + "/rows", { content: editor.getText(), rows });
      if (r.ok) { mappings = r.payload.mappings; editor.setText(r.payload.content); renderMappings(); }
      else $("mapping-status").textContent = r.payload.error ? r.payload.error.message : "映射表修改失败";
    }).finally(() => { formsPending -= 1; formBusy = formsPending > 0; });
    return formQueue;
  }

  async function loadSamples() {
    const pick = $("mapping-sample-pick");
    pick.replaceChildren(el("option", { value: "", text: "（粘贴报文）" }));
    const name = currentMapping();
    if (!name) return;
    const r = await call("GET", base + "/mappings/" + encodeURIComponent(name) + "/samples");
    if (!r.ok) return;
    for (const p of r.payload.samples) pick.append(el("option", { value: String(p.id), text: p.order_id + "（" + p.received_at.slice(0, 16).replace("T", " ") + " UTC）" }));
  }

  $("btn-mapping-preview").addEventListener("click", async () => {
    const region = $("mapping-results");
    for (const node of document.querySelectorAll(".mapping-failure")) node.textContent = "";
    const name = currentMapping();
    if (!name) { region.replaceChildren(el("p", { class: "error", text: "规则文本中没有映射声明" })); return; }
    region.textContent = "映射中…";
    const picked = $("mapping-sample-pick").value;
    const body = picked ? { content: editor.getText(), payload_id: Number(picked) } : { content: editor.getText(), payload: $("mapping-payload").value };
    const r = await call("POST", base + "/mappings/" + encodeURIComponent(name) + "/preview", body);
    const out = r.payload;
    if (!r.ok) { region.replaceChildren(el("p", { class: "error", text: out.error ? out.error.message : "预览失败" })); return; }
    if (out.ok) {
      const dropped = out.preview.dropped ? el("p", { class: "error", text: "清洗规则会丢弃此订单：" + out.preview.dropped.rule }) : null;
      region.replaceChildren(el("p", { class: "ok", text: "映射成功" }), dropped, el("pre", { text: JSON.stringify(out.preview.order, null, 2) }));
    } else if (out.failure) {
      region.replaceChildren(el("p", { class: "error", text: out.failure.message }));
      const row = [...document.querySelectorAll("#mapping-tables tr[data-target]")].find((tr) => tr.dataset.target === out.failure.field);
      if (row) row.querySelector(".mapping-failure").textContent = out.failure.message;
    } else {
      region.replaceChildren(el("p", { class: "error", text: out.error }));
    }
  });

  renderMappings();
  loadSamples();

  // ------------------------------------------------------------------ 会有什么变化
  // The answer comes as JSON lines: progress after each batch of orders, then the result with one
  // entry per comparison (price, 价格异常, risk flags and holds, ticket path).
  async function* jsonLines(resp) {
    const reader = resp.body.getReader();
    const decoder = new TextDecoder();
    let buffered = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (value) buffered += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, cut).trim();
        buffered = buffered.slice(cut + 1);
        if (line) yield JSON.parse(line);
      }
      if (done) { if (buffered.trim()) yield JSON.parse(buffered); return; }
    }
  }

  function showComparison(out, c) {
    const nodes = [el("h3", { text: c.label }), el("p", { class: "summary", text: c.summary + "（共比较 " + out.examined + " 单" + (c.skipped ? "，" + c.skipped + " 单无法比较" : "") + "）" })];
    if (c.rows.length) {
      const table = el("table", { class: "grid", "aria-label": c.table_label },
        el("thead", {}, el("tr", {}, ...c.columns.map((name) => el("th", { scope: "col", text: name })))));
      const tbody = el("tbody");
      for (const row of c.rows) tbody.append(el("tr", {}, ...row.map((cell) => el("td", { text: cell }))));
      table.append(tbody);
      nodes.push(table);
    }
    if (c.more) nodes.push(el("p", { class: "muted", text: "另有 " + c.more + " 单未列出（已计入合计）" }));
    return el("div", { class: "comparison", "data-comparison": c.key }, ...nodes);
  }

  $("btn-whatif").addEventListener("click", async () => {
    const region = $("whatif-results");
    const bar = el("progress", { max: "1", value: "0", "aria-label": "计算进度" });
    const counter = el("span", { class: "muted", text: "准备中…" });
    region.replaceChildren(el("div", { class: "toolbar" }, bar, counter));
    const fail = (message) => region.replaceChildren(el("p", { class: "error", text: message }));
    let resp;
    try {
      resp = await fetch(base + "/what-changes", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/x-ndjson, application/json", "X-CSRFToken": csrf },
        body: JSON.stringify({ content: editor.getText(), n: Number($("whatif-n").value) }),
      });
    } catch (err) { fail("计算失败：无法连接服务器"); return; }
    if (!(resp.headers.get("Content-Type") || "").includes("ndjson")) {
      const out = await resp.json();
      fail(out.error ? (out.error.message || out.error) : "计算失败");
      return;
    }
    try {
      for await (const msg of jsonLines(resp)) {
        if (msg.progress) {
          bar.max = Math.max(1, msg.progress.total); bar.value = msg.progress.done;
          counter.textContent = "已比较 " + msg.progress.done.toLocaleString("zh-CN") + " / " + msg.progress.total.toLocaleString("zh-CN") + " 单";
        } else if (msg.error) {
          fail(msg.error); return;
        } else if (msg.result) {
          region.replaceChildren(el("div", { class: "toolbar" }, bar, counter), ...msg.result.comparisons.map((c) => showComparison(msg.result, c)));
        }
      }
    } catch (err) { fail("计算中断：连接已断开"); }
  });
})();
