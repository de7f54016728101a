"""Run every demo: `python -m demos` (what `make demo` does)."""

from demos.quickstart import main

if __name__ == "__main__":
    main()
