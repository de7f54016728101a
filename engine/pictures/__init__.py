"""Pictures of the core's graphs: naming (what a node is called, how a number is written), size (how many Values
a picture takes), diagram (`draw_dot`), steps (`backward_steps`, `explain`), explorer (`explore`, its page in
page/), files (`save_diagram`).

Each imports only the core, engine/derivatives/ (forward mode's sweep) and the modules before it in this list.
"""
