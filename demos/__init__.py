"""valuegrad's demos: `python -m demos` (or `make demo`) runs them all and writes under out/."""
