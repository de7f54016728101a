"""`engine.vectorize`: a function of one sample's Values, recorded once and replayed over whole batches.

Modules, bottom-up (each imports only those above it in this list, and the core):

- arguments: a call's arguments checked and laid out as arrays (a row per Value fn receives, a column per sample);
- recording: fn run once on the first sample, comparisons refused: the scalar graph to replay;
- matrix_forms: the table's rows `linear`, `logsumexp` and `take` restated for matrices (a layer is one product);
- batched_ops: the nodes of the batched graph and what each computes on arrays, forward and backward;
- sums: chains of `+` over `*` (Python sums of products) rewritten as linear nodes, before grouping;
- grouping: the recording's scalar nodes grouped into batched nodes (a `Program`);
- replay: a Program run over a batch, forward and backward; it raises, never decides;
- reference: the plain replay, one numpy call per scalar node, that the tests hold the grouped one to
  (it imports neither grouping nor replay);
- torch_forms: the batched nodes' operations and the table's rows as PyTorch computes them (imports torch);
- to_torch: a Program exported as a PyTorch module (a torch.fx GraphModule), and its trained parameters
  written back into the Values;
- vectorize: the API, `vectorize` and `Vectorized`: checks a call, runs the replay, decides what an error means;
  `to_torch` and `load_torch` import to_torch when called, so PyTorch stays optional.
"""
