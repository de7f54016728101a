/* valuegrad's backpropagation explorer, part 3 of 4: the view of the diagram.

   The diagram area is a window onto draw_dot's SVG, as tall as the browser window allows below what is above it
   (sizeToWindow). The view follows the steps at a readable scale rather than fitting everything: follow(targets)
   shows a step's Value and its operation, and as many of its inputs as fit around them, at the reader's zoom but
   never below the reading scale, where the drawing's smallest text (an operation's name) is READABLE_PX CSS pixels
   tall and a value's text a little taller. It returns how many inputs it left out of view; showInputs() zooms out
   until all of them are in, for that step only. overview() fits the whole graph, however small its text: one key
   (0) away, and the next step (or 0 again) comes back to reading. The page opens on the first step's Value at the
   reading scale, or, when the whole graph fits at that scale or larger, with the whole graph fitted (never larger
   than the natural size, 1:1, where a point of Graphviz's drawing is 4/3 CSS pixels). Zooming keeps the point under
   the pointer (or the area's centre) where it is; dragging pans; a resized window or notebook cell redoes the view
   the reader was in. */

function diagramView(page) {
  const diagram = page.part("diagram");
  const main = page.part("main");
  const side = page.part("side");
  const svg = diagram.querySelector("svg");
  const level = page.part("zoom-level");
  const MARGIN = 12; // CSS pixels kept free around a fitted graph and around a step's nodes
  const ZOOM_STEP = Math.SQRT2; // one press of + or -
  const MAX_SCALE = 4; // 400% of the natural size
  const MIN_HEIGHT = 240; // the diagram area's least height, however small the window
  const BELOW = 16; // CSS pixels left under the diagram area at the bottom of the window
  const SCROLLBAR = 16; // room for a horizontal scrollbar, in CSS pixels
  const READABLE_PX = 11; // the smallest text's size on screen at the reading scale, in CSS pixels
  // Graphviz writes the size in points (width="1032pt") and draws in a viewBox, so setting the CSS size scales.
  const natural = { width: svg.width.baseVal.value, height: svg.height.baseVal.value };
  const viewBox = svg.viewBox.baseVal;
  const pixelsPerUnit = viewBox && viewBox.width ? natural.width / viewBox.width : 4 / 3; // at scale 1
  let smallestFont = Infinity; // in the drawing's units
  for (const text of svg.querySelectorAll("text")) {
    const size = parseFloat(text.getAttribute("font-size"));
    if (size > 0) smallestFont = Math.min(smallestFont, size);
  }
  const reading = Number.isFinite(smallestFont) ? READABLE_PX / (smallestFont * pixelsPerUnit) : 1;
  let scale = 1; // the drawing's scale now
  let chosen = null; // the scale the reader chose with -, +, 1:1 or the wheel; null until they do
  // What the view shows: "step" (following the steps), "inputs" (a step with all its inputs), "overview" (the
  // whole graph) or "look" (where the reader zoomed); a resize redoes it.
  let mode = "step";
  let followed = { node: [], inputs: [] };

  // The area's inner size without scrollbars (as when the whole graph fits), and what is visible now.
  const inner = () => ({
    width: diagram.offsetWidth - 2 * diagram.clientLeft,
    height: diagram.offsetHeight - 2 * diagram.clientTop,
  });
  function visible() {
    const rect = diagram.getBoundingClientRect();
    const left = rect.left + diagram.clientLeft;
    const top = rect.top + diagram.clientTop;
    return { left, top, right: left + diagram.clientWidth, bottom: top + diagram.clientHeight };
  }
  const centre = () => {
    const view = visible();
    return { x: (view.left + view.right) / 2, y: (view.top + view.bottom) / 2 };
  };

  // The scale at which the whole graph fits, at most 1; null while the page is not laid out (a hidden cell).
  function fitScale() {
    const size = inner();
    if (size.width <= 2 * MARGIN || size.height <= 2 * MARGIN || !natural.width || !natural.height) return null;
    return Math.min(1, (size.width - 2 * MARGIN) / natural.width, (size.height - 2 * MARGIN) / natural.height);
  }

  // The scale of a step: the reader's, if they chose one, else the fit; never below the reading scale.
  const stepScale = (least) => Math.max(chosen === null ? least : chosen, reading);

  // Draw at `newScale`, keeping the graph's point under `anchor` (client coordinates) where it is.
  function apply(newScale, anchor) {
    const before = svg.getBoundingClientRect();
    const x = (anchor.x - before.left) / scale;
    const y = (anchor.y - before.top) / scale;
    scale = newScale;
    svg.style.width = natural.width * scale + "px";
    svg.style.height = natural.height * scale + "px";
    const after = svg.getBoundingClientRect();
    diagram.scrollLeft += after.left + x * scale - anchor.x;
    diagram.scrollTop += after.top + y * scale - anchor.y;
    if (level) level.textContent = Math.round(scale * 100) + "%";
  }

  // The reader zooms to `target` (kept between the fit and MAX_SCALE): their scale from now on.
  function zoomTo(target, anchor) {
    const least = fitScale();
    if (least === null) return;
    chosen = Math.max(least, Math.min(Math.max(least, MAX_SCALE), target));
    mode = "look";
    apply(chosen, anchor || centre());
  }

  function zoomBy(factor, anchor) {
    zoomTo(scale * factor, anchor);
  }

  const rectOf = (element) => element.getBoundingClientRect();
  function union(rects) {
    return {
      left: Math.min(...rects.map((r) => r.left)),
      top: Math.min(...rects.map((r) => r.top)),
      right: Math.max(...rects.map((r) => r.right)),
      bottom: Math.max(...rects.map((r) => r.bottom)),
    };
  }
  const inside = (r, view) =>
    r.left >= view.left - 0.5 && r.top >= view.top - 0.5 && r.right <= view.right + 0.5 && r.bottom <= view.bottom + 0.5;
  const fits = (box, view) =>
    box.right - box.left <= view.right - view.left - 2 * MARGIN && box.bottom - box.top <= view.bottom - view.top - 2 * MARGIN;

  // Scroll the least distance that puts `box` inside the view, its left and top edges first.
  function scrollTo(box) {
    const view = visible();
    const shift = (low, high, viewLow, viewHigh) => {
      if (low < viewLow + MARGIN) return low - viewLow - MARGIN;
      if (high > viewHigh - MARGIN) return Math.min(high - viewHigh + MARGIN, low - viewLow - MARGIN);
      return 0;
    };
    diagram.scrollLeft += shift(box.left, box.right, view.left, view.right);
    diagram.scrollTop += shift(box.top, box.bottom, view.top, view.bottom);
  }

  // How many of the step's inputs are outside the visible area now, of how many.
  function inputsInView() {
    const view = visible();
    const out = followed.inputs.filter((group) => !inside(rectOf(group), view)).length;
    return { out, total: followed.inputs.length };
  }

  // Show a step: its Value and operation at the step's scale, and the inputs nearest to them that fit too.
  function follow(targets) {
    followed = targets;
    mode = "step";
    const least = fitScale();
    if (least === null || targets.node.length === 0) return inputsInView();
    const target = stepScale(least);
    const nodeBox = union(targets.node.map(rectOf));
    if (Math.abs(target - scale) > 1e-6 * scale) {
      apply(target, { x: (nodeBox.left + nodeBox.right) / 2, y: (nodeBox.top + nodeBox.bottom) / 2 });
    }
    let box = union(targets.node.map(rectOf));
    const middle = { x: (box.left + box.right) / 2, y: (box.top + box.bottom) / 2 };
    const distance = (r) => Math.hypot((r.left + r.right) / 2 - middle.x, (r.top + r.bottom) / 2 - middle.y);
    const inputs = targets.inputs.map(rectOf).sort((a, b) => distance(a) - distance(b));
    const view = visible();
    for (const input of inputs) {
      const bigger = union([box, input]);
      if (fits(bigger, view)) box = bigger;
    }
    scrollTo(box);
    return inputsInView();
  }

  // Zoom out until the step's Value and all its inputs are in view (for this step only).
  function showInputs() {
    const least = fitScale();
    if (least === null || followed.node.length === 0) return inputsInView();
    mode = "inputs";
    let box = union([...followed.node, ...followed.inputs].map(rectOf));
    const view = visible();
    const room = { width: view.right - view.left - 2 * MARGIN, height: view.bottom - view.top - 2 * MARGIN };
    const wanted = scale * Math.min(1, room.width / (box.right - box.left), room.height / (box.bottom - box.top));
    const target = Math.max(least, Math.min(stepScale(least), wanted));
    apply(target, { x: (box.left + box.right) / 2, y: (box.top + box.bottom) / 2 });
    box = union([...followed.node, ...followed.inputs].map(rectOf));
    scrollTo(box);
    return inputsInView();
  }

  // The whole graph, fitted: however small its text.
  function overview() {
    const least = fitScale();
    if (least === null) return;
    mode = "overview";
    apply(least, centre());
    diagram.scrollLeft = 0;
    diagram.scrollTop = 0;
  }

  // As tall as the window allows below what is above it, or as the drawing is at the scale the page opens at if
  // that is less (a wide, flat graph leaves no empty band in a notebook); its height does not change from step
  // to step. The side column, where the page is wide enough to have one, is as tall as the diagram and the line
  // above it.
  function sizeToWindow() {
    const above = diagram.getBoundingClientRect().top - page.root.getBoundingClientRect().top;
    let height = Math.max(MIN_HEIGHT, Math.floor(window.innerHeight - above - BELOW));
    const width = inner().width - 2 * MARGIN;
    if (width > 0 && natural.width && natural.height) {
      const fit = Math.min(1, width / natural.width, (height - 2 * MARGIN) / natural.height);
      const opening = chosen === null ? Math.max(fit, reading) : Math.max(chosen, reading);
      const drawn = Math.ceil(natural.height * opening + 2 * MARGIN + SCROLLBAR);
      height = Math.max(MIN_HEIGHT, Math.min(height, drawn));
    }
    if (diagram.style.height !== height + "px") diagram.style.height = height + "px";
    const beside = getComputedStyle(side).display !== "contents";
    const sideHeight = beside ? main.offsetHeight + "px" : "";
    if (side.style.height !== sideHeight) side.style.height = sideHeight;
  }

  function relayout() {
    sizeToWindow();
    if (mode === "overview") overview();
    else if (mode === "look") {
      const least = fitScale();
      if (least !== null) apply(Math.max(least, scale), centre());
    } else {
      const wasInputs = mode === "inputs";
      follow(followed);
      if (wasInputs) showInputs();
    }
  }

  // Drag with the mouse (or a pen) to pan; touch scrolls natively. Not on the scrollbars.
  let drag = null;
  diagram.addEventListener("pointerdown", (event) => {
    if (event.button !== 0 || event.pointerType === "touch") return;
    const view = visible();
    if (event.clientX >= view.right || event.clientY >= view.bottom) return;
    drag = { x: event.clientX, y: event.clientY, left: diagram.scrollLeft, top: diagram.scrollTop };
    diagram.setPointerCapture(event.pointerId);
    diagram.classList.add("vg-dragging");
    page.root.focus({ preventScroll: true }); // the keys then act on this page
    event.preventDefault(); // no text selection
  });
  diagram.addEventListener("pointermove", (event) => {
    if (drag === null) return;
    diagram.scrollLeft = drag.left - (event.clientX - drag.x);
    diagram.scrollTop = drag.top - (event.clientY - drag.y);
  });
  const endDrag = () => {
    drag = null;
    diagram.classList.remove("vg-dragging");
  };
  diagram.addEventListener("pointerup", endDrag);
  diagram.addEventListener("pointercancel", endDrag);
  // Ctrl (or Cmd) and the wheel, or a touchpad's pinch, zoom about the pointer; the wheel alone scrolls.
  diagram.addEventListener(
    "wheel",
    (event) => {
      if (!(event.ctrlKey || event.metaKey)) return;
      event.preventDefault();
      zoomBy(Math.pow(ZOOM_STEP, -event.deltaY / 200), { x: event.clientX, y: event.clientY });
    },
    { passive: false }
  );

  // Redo the view when the window or the page changes width, e.g. a notebook cell shown or resized (not when
  // the page grows taller: the transcript below the diagram does, step by step).
  let laidOut = null;
  function resized() {
    const size = page.root.offsetWidth + "x" + window.innerHeight;
    if (size === laidOut) return;
    laidOut = size;
    relayout();
  }
  window.addEventListener("resize", resized);
  if (typeof ResizeObserver === "function") {
    let pending = false;
    new ResizeObserver(() => {
      if (pending) return;
      pending = true;
      requestAnimationFrame(() => {
        pending = false;
        resized();
      });
    }).observe(page.root);
  }
  sizeToWindow();

  return {
    zoomIn: () => zoomBy(ZOOM_STEP),
    zoomOut: () => zoomBy(1 / ZOOM_STEP),
    actualSize: () => zoomTo(1),
    overview,
    inOverview: () => mode === "overview",
    follow,
    showInputs,
    relayout: () => {
      laidOut = page.root.offsetWidth + "x" + window.innerHeight;
      relayout();
    },
  };
}
