// The builder's DSL editor: CodeMirror 6 with the OrderPulse rules language highlighted
// (keywords, Chinese names, money, percents, durations, strings, comments), line numbers,
// the checker's problems as underlined diagnostics, and Ctrl+S / Ctrl+Shift+F hooks.
// Built by `make assets` into builder_ui/static/vendor/editor.js (global `OPEditor`).
import { EditorState } from "@codemirror/state";
import { EditorView, keymap, lineNumbers, highlightActiveLine, drawSelection } from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { StreamLanguage, HighlightStyle, syntaxHighlighting, bracketMatching } from "@codemirror/language";
import { linter, setDiagnostics, lintGutter } from "@codemirror/lint";
import { searchKeymap } from "@codemirror/search";
import { tags as t } from "@lezer/highlight";

const KEYWORDS = new Set(("source mapping cleaning promotion machine alert risk channel hook tier rule gift " +
  "freight order pick best first all when then and or not in on lines where tagged exclude from with " +
  "percent_off amount_off fixed_price every off cap split by funded merchant platform add sku qty base free " +
  "over region state owner deadline final initial action to requires via notify call archive set data " +
  "migrate do open measure per change_vs_previous flag hold env pull retry credentials normalize drop " +
  "each map within of count distinct sum avg min max orders order_lines returns tickets shipments stock " +
  "minimum cooldown clear month week day hour true false").split(" "));

const opLanguage = StreamLanguage.define({
  name: "orderpulse",
  token(stream) {
    if (stream.eatSpace()) return null;
    if (stream.match(/#.*/)) return "comment";
    if (stream.match(/"(?:[^"\\]|\\.)*"?/)) return "string";
    if (stream.match(/¥\s?\d[\d,]*(?:\.\d+)?/)) return "number.money";
    if (stream.match(/\d+(?:\.\d+)?%/)) return "number.percent";
    if (stream.match(/\d+(?:s|m|h|d)\b/)) return "number.duration";
    if (stream.match(/\d+(?:\.\d+)?/)) return "number";
    if (stream.match(/[A-Za-z_][\w]*/)) {
      return KEYWORDS.has(stream.current()) ? "keyword" : "variableName";
    }
    if (stream.match(/[\u3400-\u9fff\uf900-\ufaff][\w\u3400-\u9fff\uf900-\ufaff]*/)) return "labelName";
    if (stream.match(/>=|<=|==|!=|[<>=+\-*\/]/)) return "operator";
    stream.next();
    return null;
  },
  tokenTable: {
    "number.money": t.special(t.number),
    "number.percent": t.number,
    "number.duration": t.unit,
  },
});

// Colours chosen for WCAG AA contrast on white.
const opHighlight = HighlightStyle.define([
  { tag: t.keyword, color: "#1d39c4", fontWeight: "600" },
  { tag: t.string, color: "#237804" },
  { tag: t.comment, color: "#595959", fontStyle: "italic" },
  { tag: t.special(t.number), color: "#ad2102", fontWeight: "600" },
  { tag: t.number, color: "#ad4e00" },
  { tag: t.unit, color: "#531dab" },
  { tag: t.labelName, color: "#006d75" },
  { tag: t.operator, color: "#262626" },
]);

function toDiagnostics(doc, problems) {
  const out = [];
  for (const p of problems) {
    if (!p.line || p.line > doc.lines) continue;
    const line = doc.line(p.line);
    const from = Math.min(line.from + Math.max(p.col - 1, 0), line.to);
    let to = from;
    const rest = doc.sliceString(from, line.to);
    const word = /^[\w\u3400-\u9fff"¥.%]+/u.exec(rest);
    to = from + (word ? word[0].length : Math.min(1, rest.length));
    if (to === from && from > line.from) { return out; }
    out.push({ from, to, severity: p.severity === "error" ? "error" : "warning", message: p.message });
  }
  return out;
}

function mount(host, options) {
  const onChange = options.onChange || (() => {});
  const onSave = options.onSave || (() => {});
  const onFormat = options.onFormat || (() => {});
  const view = new EditorView({
    parent: host,
    state: EditorState.create({
      doc: options.doc || "",
      extensions: [
        lineNumbers(), history(), drawSelection(), highlightActiveLine(), bracketMatching(),
        opLanguage, syntaxHighlighting(opHighlight), lintGutter(),
        EditorState.readOnly.of(!!options.readOnly),
        EditorView.editable.of(!options.readOnly),
        keymap.of([
          { key: "Mod-s", preventDefault: true, run: () => { onSave(); return true; } },
          { key: "Shift-Alt-f", preventDefault: true, run: () => { onFormat(); return true; } },
          indentWithTab, ...defaultKeymap, ...historyKeymap, ...searchKeymap,
        ]),
        EditorView.contentAttributes.of({ "aria-label": options.label || "规则文本", "aria-multiline": "true" }),
        EditorView.updateListener.of((u) => { if (u.docChanged) onChange(u.state.doc.toString()); }),
      ],
    }),
  });
  return {
    view,
    getText: () => view.state.doc.toString(),
    setText(text) {
      if (text === view.state.doc.toString()) return;
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
    },
    showProblems(problems) {
      view.dispatch(setDiagnostics(view.state, toDiagnostics(view.state.doc, problems)));
    },
  };
}

// The text of the editor that contains DOM element `node` (null when there is none).
function textOf(node) {
  const view = EditorView.findFromDOM(node);
  return view ? view.state.doc.toString() : null;
}

export { mount, textOf };
