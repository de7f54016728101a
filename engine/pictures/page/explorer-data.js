/* valuegrad's backpropagation explorer, part 1 of 4: reading the data.

   engine/pictures/explorer.py writes the data as a JSON script block inside the page: every Value's node name
   (v0, v1, ... as in the SVG), its data and its final gradient, already formatted as in the diagrams, its
   inputs, its hover text, and the list of steps: first one per Value in computing order (the forward pass,
   each leaf just before the first Value that reads it), then dL/dL = 1 and one per chain-rule step of
   engine.backward_steps (the backward pass). With forward mode (explore(root, wrt=w1): data.wrt names the
   leaf), each Value also has its tangent along w1, shown in a cell between data and grad, and each forward step
   computes its Value's tangent with its data. This part reads that block, finds each Value's box in draw_dot's
   SVG (readPage) and replays the first k steps (stateAfter): everything the other parts know about the
   computation, they learn here.

   explorer.py inlines the four parts (data, step, view, controls), in that order, into one function that it
   calls with the page's root element: no name in them is global, and everything is looked up inside the root,
   so that several pages can share a notebook. */

function readPage(root) {
  const data = JSON.parse(root.querySelector(".vg-data").textContent);
  // explorer.py names each SVG group after the page and its DOT node or edge: <page id>-v3, <page id>-v0->op3.
  const group = (name) => root.querySelector('[id="' + root.id + "-" + name + '"]');
  // Each Value's box ends with its "data ..." and "grad ..." cells, with forward mode's "d/dw1 ..." between
  // them (see draw_dot's _value_node).
  const cells = data.wrt === null ? 2 : 3;
  const boxes = data.values.map((value) => {
    const node = group(value.id);
    const texts = node ? Array.from(node.querySelectorAll("text")) : [];
    const has = texts.length >= cells;
    const gradText = has ? texts[texts.length - 1] : null;
    return {
      group: node,
      op: value.op ? group(value.op) : null,
      dataText: has ? texts[texts.length - cells] : null,
      tangentText: has && cells === 3 ? texts[texts.length - 2] : null,
      gradText,
      finalGrad: "grad " + value.grad, // the text the box was laid out for
      gradWidth: gradText ? gradText.getComputedTextLength() : 0,
      squeezed: false,
    };
  });
  return {
    root,
    values: data.values,
    steps: data.steps,
    n: data.steps.length,
    start: data.start, // what the page says at step 0
    tangentTitle: data.wrt === null ? null : "d/d" + data.wrt, // the tangent cell's title, with forward mode
    boxes,
    group,
    edges: Array.from(root.querySelectorAll(".vg-diagram g.edge")),
    part: (name) => root.querySelector(".vg-" + name), // the page's elements by class: part("counter")
  };
}

/* The state after the first k steps, replayed from step 0 each time, so that every way of moving (buttons,
   slider, keys, Play) shows the same thing for the same k: which Values are computed, each tangent and each
   gradient so far (null: not reached yet), the k-th step itself, what it changed, and the inputs of its
   Value. */
function stateAfter(page, k) {
  const computed = page.values.map(() => false);
  const tangents = page.values.map(() => null);
  const grads = page.values.map(() => null);
  for (const step of page.steps.slice(0, k)) {
    if (step.phase === "forward") {
      computed[step.value] = true;
      if (step.tangent !== undefined) tangents[step.value] = step.tangent;
    } else {
      grads[step.value] = step.grad;
      for (const [parent, total] of step.parents) grads[parent] = total;
    }
  }
  const step = k > 0 ? page.steps[k - 1] : null;
  const changedData = new Set();
  const changedGrads = new Set();
  const inputs = new Set();
  if (step) {
    if (step.phase === "forward") changedData.add(step.value); // and its tangent, with forward mode
    else if (step.parents.length === 0) changedGrads.add(step.value); // dL/dL = 1
    else for (const [parent] of step.parents) changedGrads.add(parent);
    for (const input of page.values[step.value].inputs) inputs.add(input);
  }
  return { k, step, computed, tangents, grads, changedData, changedGrads, inputs };
}
