/* valuegrad's backpropagation explorer, part 4 of 4: the controls, and the page's start.

   startExplorer(root) reads the page (part 1), prepares the drawing of steps (part 2) and the view (part 3),
   and connects the controls: Previous, Next, Play/Pause and the slider move through the steps; -, +, Fit and
   1:1 zoom; hovering over a Value explains it. Each step is shown at a readable scale (part 3): when some of
   its Value's inputs are out of view there, the step's text says how many, and i (or its button) shows them
   all. Fit (0) shows the whole graph; 0 again, or the next step, comes back to the step. Keys: ArrowLeft,
   ArrowRight, Home and End step, + (or =) and - zoom, 0 the whole graph, 1 the natural size, i all inputs.
   They act on the page the reader last clicked, focused or stepped in, until they click elsewhere (in a
   notebook, Jupyter moves the focus to a cell by itself, so the focus alone cannot say), and on a page of its
   own when nothing has the focus; never while typing in a field. */

function startExplorer(root) {
  const page = readPage(root);
  const drawing = stepDrawing(page);
  const view = diagramView(page);
  const n = page.n;
  const counter = page.part("counter");
  const slider = page.part("slider");
  const prevButton = page.part("prev");
  const nextButton = page.part("next");
  const playButton = page.part("play");
  const offview = page.part("offview");
  const offviewText = page.part("offview-text");
  const showInputsButton = page.part("show-inputs");
  let current = 0;

  // The step's word on inputs the view left out: how many, and the button that brings them in.
  function tell(seen, all) {
    offview.hidden = seen.out === 0 && !(all && seen.total > 0);
    const inputs = seen.total === 1 ? "input" : "inputs";
    if (seen.out > 0) offviewText.textContent = seen.out + " of " + seen.total + " " + inputs + " out of view:";
    else offviewText.textContent = "All " + seen.total + " " + inputs + " in view; the next step zooms back in.";
    showInputsButton.hidden = seen.out === 0;
  }

  function show(k) {
    current = Math.max(0, Math.min(n, k));
    drawing.draw(current);
    counter.textContent = "step " + current + " / " + n;
    slider.value = String(current);
    // A focused button that becomes disabled would drop the focus: the page keeps it.
    const focused = document.activeElement;
    if ((focused === prevButton && current === 0) || (focused === nextButton && current === n)) {
      root.focus({ preventScroll: true });
    }
    prevButton.disabled = current === 0;
    nextButton.disabled = current === n;
    // At step 0, where the forward pass will start.
    tell(view.follow(drawing.targets(Math.max(current, 1))), false);
    drawing.showCurrentLine();
  }

  function showInputs() {
    tell(view.showInputs(), true);
    drawing.showCurrentLine();
  }

  function overview() {
    if (view.inOverview()) show(current); // again: back to the step
    else {
      view.overview();
      offview.hidden = true;
    }
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
  page.part("zoom-in").addEventListener("click", view.zoomIn);
  page.part("zoom-out").addEventListener("click", view.zoomOut);
  page.part("fit").addEventListener("click", overview);
  page.part("actual-size").addEventListener("click", view.actualSize);
  showInputsButton.addEventListener("click", showInputs);

  const keys = {
    ArrowRight: () => go(current + 1),
    ArrowLeft: () => go(current - 1),
    Home: () => go(0),
    End: () => go(n),
    "+": view.zoomIn,
    "=": view.zoomIn, // + without Shift
    "-": view.zoomOut,
    0: overview,
    1: view.actualSize,
    i: showInputs,
  };
  const typing = (element) =>
    element !== slider && (element.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(element.tagName));
  const otherPage = (element) => {
    const page = element.closest ? element.closest(".vg-explorer") : null;
    return page !== null && page !== root;
  };
  // Listen on the window, before anything else sees the event, for as long as the page is in the document
  // (a notebook cell run again replaces it).
  function onWindow(type, handler) {
    const listener = (event) => {
      if (root.isConnected) handler(event);
      else window.removeEventListener(type, listener, true);
    };
    window.addEventListener(type, listener, true);
  }
  // Whether the reader is working with this page: they clicked in it last, or moved the focus into it.
  let engaged = false;
  onWindow("pointerdown", (event) => (engaged = root.contains(event.target)));
  onWindow("focusin", (event) => {
    if (root.contains(event.target)) engaged = true;
    else if (otherPage(event.target)) engaged = false;
  });
  function forThisPage(target) {
    if (typing(target) || otherPage(target)) return false;
    if (engaged || root.contains(target)) return true;
    const nothingFocused = target === document.body || target === document.documentElement;
    return nothingFocused && document.querySelectorAll(".vg-explorer").length === 1; // a page of its own
  }
  // Jupyter's own shortcuts (in command mode, 1 makes a cell a heading and 0 0 restarts the kernel) must not
  // act on a key that steps or zooms this page: it is stopped on the window, before they see it.
  onWindow("keydown", (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey || !Object.hasOwn(keys, event.key)) return;
    if (!forThisPage(event.target)) return;
    event.preventDefault();
    event.stopPropagation();
    engaged = true;
    keys[event.key]();
  });

  // Hovering over a Value shows its operation and inputs (the browser's tooltip shows the same).
  const hover = page.part("hover");
  const hoverHint = hover.textContent;
  page.values.forEach((value, i) => {
    const node = page.boxes[i].group;
    if (!node) return;
    const title = node.querySelector("title");
    if (title) title.textContent = value.hover;
    node.addEventListener("mouseenter", () => {
      hover.textContent = value.hover;
    });
    node.addEventListener("mouseleave", () => {
      hover.textContent = hoverHint;
    });
  });

  show(0);
}
