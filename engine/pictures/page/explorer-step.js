/* valuegrad's backpropagation explorer, part 2 of 4: drawing a step.

   stepDrawing(page) returns draw(k), which shows the state after the first k steps (part 1's stateAfter): each
   box's data and grad text (and tangent, with forward mode) as they are then, the highlights (orange: the Value whose step it is, with its
   operation and edges; green: its inputs; red text: a number the step has just changed; faded: not computed
   yet), the step's title, lines and notes, and the transcript up to the step (forward mode's tangent
   lines, when the page has them, then the backward pass) (scrolled to
   the step's lines by showCurrentLine, once the page is laid out). targets(k)
   gives the SVG groups of step k's Value and its operation (node) and of its inputs: what part 3 keeps in view. */

function stepDrawing(page) {
  const phase = page.part("phase");
  const lines = page.part("lines");
  const notes = page.part("notes");
  const transcript = page.part("transcript");

  // The transcript: every line of the backward pass (after forward mode's tangent lines, when the page has
  // them), each tagged with its step, shown up to the current step.
  const transcriptLines = [];
  page.steps.forEach((step, index) => {
    const texts = step.phase === "backward" ? step.lines : step.tangentLine !== undefined ? [step.tangentLine] : [];
    for (const text of texts) {
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

  function mark(group, name, on) {
    if (group) group.classList.toggle(name, on);
  }

  // The boxes were laid out for the final gradients; a longer number on the way is squeezed to fit. Called
  // after all the texts are written, and measuring only the texts longer than their final one, so that a
  // step costs one layout, not one per box.
  function fitGradTexts() {
    for (const box of page.boxes) {
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

  function drawBoxes(state) {
    const { step, computed, grads } = state;
    page.values.forEach((value, i) => {
      const box = page.boxes[i];
      setText(box.dataText, "data " + (computed[i] ? value.data : ""), state.changedData.has(i));
      if (box.tangentText) {
        const tangent = state.tangents[i];
        setText(box.tangentText, page.tangentTitle + " " + (tangent === null ? "" : tangent), state.changedData.has(i));
      }
      setText(box.gradText, "grad " + (grads[i] === null ? "" : grads[i]), state.changedGrads.has(i));
      const isCurrent = step !== null && step.value === i;
      mark(box.group, "vg-pending", !computed[i]);
      mark(box.op, "vg-pending", !computed[i]);
      mark(box.group, "vg-current", isCurrent);
      mark(box.op, "vg-current", isCurrent && value.op !== "");
      mark(box.group, "vg-parent", state.inputs.has(i));
    });
    fitGradTexts();
    for (const edge of page.edges) edge.classList.remove("vg-active");
    if (step && page.values[step.value].op) {
      const value = page.values[step.value];
      for (const input of value.inputs) mark(page.group(page.values[input].id + "->" + value.op), "vg-active", true);
      mark(page.group(value.op + "->" + value.id), "vg-active", true);
    }
  }

  function drawText(state) {
    const step = state.step;
    phase.textContent = step ? step.title : page.start;
    lines.textContent = step ? step.lines.join("\n") : "";
    notes.textContent = step ? step.notes.join("\n") : "";
    for (const line of transcriptLines) {
      const at = Number(line.dataset.step);
      line.classList.toggle("vg-later", at > state.k);
      line.classList.toggle("vg-current", at === state.k);
    }
  }

  // Scroll the transcript to the step's last line: called once the page around it is laid out for the step.
  function showCurrentLine() {
    const current = transcript.querySelectorAll(".vg-line.vg-current");
    if (current.length > 0) scrollWithin(transcript, current[current.length - 1]);
  }

  // Scroll `container` (not the page) just enough to show `element`.
  function scrollWithin(container, element) {
    const outer = container.getBoundingClientRect();
    const inner = element.getBoundingClientRect();
    if (inner.bottom > outer.bottom) container.scrollTop += inner.bottom - outer.bottom + 8;
    else if (inner.top < outer.top) container.scrollTop -= outer.top - inner.top + 8;
  }

  function draw(k) {
    const state = stateAfter(page, k);
    drawBoxes(state);
    drawText(state);
  }

  // Step k's Value with its operation, and its inputs (each once: x * x reads x twice), as SVG groups.
  function targets(k) {
    const step = page.steps[k - 1];
    if (!step) return { node: [], inputs: [] };
    const box = page.boxes[step.value];
    const inputs = Array.from(new Set(page.values[step.value].inputs), (i) => page.boxes[i].group);
    return { node: [box.group, box.op].filter(Boolean), inputs: inputs.filter(Boolean) };
  }

  return { draw, targets, showCurrentLine };
}
