/* valuegrad's backpropagation explorer, part 3 of 4: the view of the diagram.

   The diagram area is a window onto draw_dot's SVG. It is as tall as the browser window allows below the
   controls and the step's text (sizeToWindow), and opens with the whole graph fitted into it, never larger
   than its natural size (1:1, where a point of Graphviz's drawing is 4/3 CSS pixels). Zooming and fitting
   change the drawing's scale, keeping the point under the pointer (or the area's centre) where it is;
   dragging pans. bringIntoView(groups) scrolls just enough to show a step's nodes at the scale the reader
   chose, or, where they cannot fit at that scale, zooms out just enough (and back to the reader's scale at
   the next step that fits). Once the reader zooms, a resized window keeps their scale; until then it refits. */

function diagramView(page) {
  const diagram = page.part("diagram");
  const svg = diagram.querySelector("svg");
  const level = page.part("zoom-level");
  const MARGIN = 12; // CSS pixels kept free around a fitted graph and around a step's nodes
  const ZOOM_STEP = Math.SQRT2; // one press of + or -
  const MAX_SCALE = 4; // 400% of the natural size
  const MIN_HEIGHT = 240; // the diagram area's least height, however small the window
  const BELOW = 16; // CSS pixels left under the diagram area at the bottom of the window
  // Graphviz writes the size in points (width="1032pt") and draws in a viewBox, so setting the CSS size scales.
  const natural = { width: svg.width.baseVal.value, height: svg.height.baseVal.value };
  let scale = 1; // the drawing's scale now
  let chosen = 1; // the scale the reader chose (or the fit), which steps keep when their nodes fit
  let fitted = true; // true until the reader zooms: then a resize keeps their scale

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

  // Zoom to `target` (kept between the fit and MAX_SCALE); `byReader`: the reader's choice, not a step's need.
  function zoomTo(target, anchor, byReader = true) {
    const least = fitScale();
    if (least === null) return;
    const newScale = Math.max(least, Math.min(Math.max(least, MAX_SCALE), target));
    if (byReader) {
      chosen = newScale;
      fitted = newScale === least;
    }
    apply(newScale, anchor || centre());
  }

  function fit() {
    const least = fitScale();
    if (least === null) return;
    fitted = true;
    chosen = least;
    apply(least, centre());
    diagram.scrollLeft = 0;
    diagram.scrollTop = 0;
  }

  function zoomBy(factor, anchor) {
    zoomTo(scale * factor, anchor);
  }

  function union(elements) {
    const rects = elements.map((element) => element.getBoundingClientRect());
    return {
      left: Math.min(...rects.map((r) => r.left)),
      top: Math.min(...rects.map((r) => r.top)),
      right: Math.max(...rects.map((r) => r.right)),
      bottom: Math.max(...rects.map((r) => r.bottom)),
    };
  }

  function bringIntoView(groups) {
    if (groups.length === 0 || fitScale() === null) return;
    let box = union(groups);
    let view = visible();
    // The reader's scale, or the largest below it at which the nodes fit. Twice: scrollbars that come or go
    // with the new scale change the room.
    for (let attempt = 0; attempt < 2; attempt++) {
      const room = { width: view.right - view.left - 2 * MARGIN, height: view.bottom - view.top - 2 * MARGIN };
      const atChosen = chosen / scale; // the box's size at the chosen scale, per pixel of its size now
      const width = (box.right - box.left) * atChosen;
      const height = (box.bottom - box.top) * atChosen;
      const target = chosen * Math.min(1, room.width / width, room.height / height);
      if (Math.abs(target - scale) <= 1e-6 * scale) break;
      zoomTo(target, { x: (box.left + box.right) / 2, y: (box.top + box.bottom) / 2 }, false);
      box = union(groups);
      view = visible();
    }
    // Scroll the least distance that puts the box inside the view, its left and top edges first.
    const shift = (low, high, viewLow, viewHigh) => {
      if (low < viewLow + MARGIN) return low - viewLow - MARGIN;
      if (high > viewHigh - MARGIN) return Math.min(high - viewHigh + MARGIN, low - viewLow - MARGIN);
      return 0;
    };
    diagram.scrollLeft += shift(box.left, box.right, view.left, view.right);
    diagram.scrollTop += shift(box.top, box.bottom, view.top, view.bottom);
  }

  // As tall as the window allows below what is above it (its height does not change from step to step).
  function sizeToWindow() {
    const above = diagram.getBoundingClientRect().top - page.root.getBoundingClientRect().top;
    const height = Math.max(MIN_HEIGHT, Math.floor(window.innerHeight - above - BELOW));
    if (diagram.style.height !== height + "px") diagram.style.height = height + "px";
  }

  function relayout() {
    sizeToWindow();
    if (fitted) fit();
    else zoomTo(scale, undefined, false);
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

  // Refit (or keep the reader's scale) when the window or the page changes size, e.g. a notebook cell shown.
  window.addEventListener("resize", relayout);
  if (typeof ResizeObserver === "function") {
    let pending = false;
    new ResizeObserver(() => {
      if (pending) return;
      pending = true;
      requestAnimationFrame(() => {
        pending = false;
        relayout();
      });
    }).observe(page.root);
  }
  relayout();

  return {
    zoomIn: () => zoomBy(ZOOM_STEP),
    zoomOut: () => zoomBy(1 / ZOOM_STEP),
    actualSize: () => zoomTo(1),
    fit,
    bringIntoView,
  };
}
