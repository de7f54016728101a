/* valuegrad's backpropagation explorer: the page's script.

   It steps through one forward and one backward pass on draw_dot's SVG. engine/pictures/explorer.py writes the data
   (a JSON script block inside the page): every Value's node name (v0, v1, ... as in the SVG), its data and its
   final gradient, already formatted as in the diagrams, and the list of steps: first one per Value in
   topological order (the forward pass), then dL/dL = 1 and one per chain-rule step of engine.backward_steps.
   Step k of the page shows the state after the first k of them; the state is recomputed from step 0 each
   time, so every way of moving (buttons, slider, keys, Play) shows the same thing for the same k.

   Everything is looked up inside `root`, the page's own element, so that several pages can share a notebook. */
function valuegradExplorer(root) {
  "use strict";
  const data = JSON.parse(root.querySelector(".vg-data").textContent);
  const values = data.values;
  const steps = data.steps;
  const n = steps.length;
  const find = (name) => root.querySelector(".vg-" + name);
  const counter = find("counter");
  const slider = find("slider");
  const prevButton = find("prev");
  const nextButton = find("next");
  const playButton = find("play");
  const phase = find("phase");
  const lines = find("lines");
  const notes = find("notes");
  const hover = find("hover");
  const diagram = find("diagram");
  const transcript = find("transcript");
  const hoverHint = hover.textContent;

  // engine/pictures/explorer.py names each SVG group after the page and its DOT node or edge: <page id>-v3, <page id>-v0->op3.
  const group = (name) => root.querySelector('[id="' + root.id + "-" + name + '"]');
  const edgeGroups = Array.from(root.querySelectorAll(".vg-diagram g.edge"));

  // Each Value's box ends with its "data ..." and "grad ..." cells (see draw_dot's _value_node).
  const boxes = values.map((value) => {
    const node = group(value.id);
    const texts = node ? Array.from(node.querySelectorAll("text")) : [];
    const box = {
      group: node,
      op: value.op ? group(value.op) : null,
      dataText: texts.length >= 2 ? texts[texts.length - 2] : null,
      gradText: texts.length >= 2 ? texts[texts.length - 1] : null,
      finalGrad: "grad " + value.grad, // the text the box was laid out for
      gradWidth: 0,
      squeezed: false,
    };
    if (box.gradText) box.gradWidth = box.gradText.getComputedTextLength();
    if (node) {
      const title = node.querySelector("title");
      if (title) title.textContent = value.hover; // the browser's own tooltip
      node.addEventListener("mouseenter", () => {
        hover.textContent = value.hover;
      });
      node.addEventListener("mouseleave", () => {
        hover.textContent = hoverHint;
      });
    }
    return box;
  });

  // The transcript: every line of the backward pass, shown up to the current step.
  const transcriptLines = [];
  steps.forEach((step, index) => {
    if (step.phase !== "backward") return;
    for (const text of step.lines) {
      const line = document.createElement("div");
      line.className = "vg-line";
      line.textContent = text;
      line.dataset.step = String(index + 1);
      transcript.appendChild(line);
      transcriptLines.push(line);
    }
  });

  function setText(text, content, changed) {
    if (!text) return;
    if (text.textContent !== content) text.textContent = content;
    text.classList.toggle("vg-changed", changed);
  }

  // The boxes were laid out for the final gradients; a longer number on the way is squeezed to fit. Called
  // after all the texts are written, and measuring only the texts longer than their final one, so that a
  // step costs one layout, not one per box.
  function fitGradTexts() {
    for (const box of boxes) {
      const text = box.gradText;
      if (!text || box.gradWidth <= 0) continue;
      const longer = text.textContent.length > box.finalGrad.length;
      if (box.squeezed) {
        text.removeAttribute("textLength");
        text.removeAttribute("lengthAdjust");
        box.squeezed = false;
      }
      if (longer && text.getComputedTextLength() > box.gradWidth + 0.5) {
        text.setAttribute("textLength", String(box.gradWidth));
        text.setAttribute("lengthAdjust", "spacingAndGlyphs");
        box.squeezed = true;
      }
    }
  }

  function mark(group, name, on) {
    if (group) group.classList.toggle(name, on);
  }

  let current = 0;

  function show(k) {
    k = Math.max(0, Math.min(n, k));
    current = k;
    // Replay the first k steps.
    const computed = values.map(() => false);
    const grads = values.map(() => null);
    for (let s = 0; s < k; s++) {
      const step = steps[s];
      if (step.phase === "forward") {
        computed[step.value] = true;
      } else {
        grads[step.value] = step.grad;
        for (const [parent, total] of step.parents) grads[parent] = total;
      }
    }
    const step = k > 0 ? steps[k - 1] : null;
    const changedData = new Set();
    const changedGrads = new Set();
    const parents = new Set();
    if (step) {
      if (step.phase === "forward") changedData.add(step.value);
      else {
        if (step.parents.length === 0) changedGrads.add(step.value);
        for (const [parent] of step.parents) changedGrads.add(parent);
      }
      for (const parent of values[step.value].inputs) parents.add(parent);
    }
    values.forEach((value, i) => {
      const box = boxes[i];
      setText(box.dataText, "data " + (computed[i] ? value.data : ""), changedData.has(i));
      setText(box.gradText, "grad " + (grads[i] === null ? "" : grads[i]), changedGrads.has(i));
      const isCurrent = step !== null && step.value === i;
      mark(box.group, "vg-pending", !computed[i]);
      mark(box.op, "vg-pending", !computed[i]);
      mark(box.group, "vg-current", isCurrent);
      mark(box.op, "vg-current", isCurrent && value.op !== "");
      mark(box.group, "vg-parent", parents.has(i));
    });
    fitGradTexts();
    for (const edge of edgeGroups) edge.classList.remove("vg-active");
    if (step && values[step.value].op) {
      const value = values[step.value];
      for (const parent of value.inputs) mark(group(values[parent].id + "->" + value.op), "vg-active", true);
      mark(group(value.op + "->" + value.id), "vg-active", true);
    }

    counter.textContent = "step " + k + " / " + n;
    slider.value = String(k);
    prevButton.disabled = k === 0;
    nextButton.disabled = k === n;
    phase.textContent = step ? step.title : data.start;
    lines.textContent = step ? step.lines.join("\n") : "";
    notes.textContent = step ? step.notes.join("\n") : "";
    let last = null;
    for (const line of transcriptLines) {
      const at = Number(line.dataset.step);
      line.classList.toggle("vg-later", at > k);
      line.classList.toggle("vg-current", at === k);
      if (at === k) last = line;
    }
    if (last) keepVisible(transcript, last);
    if (step && boxes[step.value].group) keepVisible(diagram, boxes[step.value].group);
  }

  // Scroll `container` (not the page) just enough to show `element`.
  function keepVisible(container, element) {
    const outer = container.getBoundingClientRect();
    const inner = element.getBoundingClientRect();
    if (inner.bottom > outer.bottom) container.scrollTop += inner.bottom - outer.bottom + 8;
    else if (inner.top < outer.top) container.scrollTop -= outer.top - inner.top + 8;
    if (inner.right > outer.right) container.scrollLeft += inner.right - outer.right + 8;
    else if (inner.left < outer.left) container.scrollLeft -= outer.left - inner.left + 8;
  }

  // Play: about 15 s for the whole computation, between 40 ms and 600 ms a step.
  const delay = Math.max(40, Math.min(600, 15000 / Math.max(n, 1)));
  let timer = null;

  function pause() {
    if (timer !== null) clearInterval(timer);
    timer = null;
    playButton.textContent = "Play";
  }

  function play() {
    if (current >= n) show(0);
    playButton.textContent = "Pause";
    timer = setInterval(() => {
      show(current + 1);
      if (current >= n) pause();
    }, delay);
  }

  function go(k) {
    pause();
    show(k);
  }

  prevButton.addEventListener("click", () => go(current - 1));
  nextButton.addEventListener("click", () => go(current + 1));
  playButton.addEventListener("click", () => (timer === null ? play() : pause()));
  slider.addEventListener("input", () => go(Number(slider.value)));
  document.addEventListener("keydown", (event) => {
    // Keys act on this page when nothing else has the focus (a standalone page) or when it has (a notebook).
    if (event.target !== document.body && !root.contains(event.target)) return;
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const moves = { ArrowRight: current + 1, ArrowLeft: current - 1, Home: 0, End: n };
    if (!(event.key in moves)) return;
    event.preventDefault();
    go(moves[event.key]);
  });

  show(0);
}
