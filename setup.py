"""Build valuegrad: engine/core compiled with mypyc where a C compiler is available, else pure Python.

The compiled core is the same source as the interpreted one (mypyc compiles ordinary typed Python), so
the Python files stay the one implementation a learner reads; `engine.COMPILED` says which runs. Set
VALUEGRAD_INTERPRETED=1 to build (and to run) without the compiled core. Everything else about the
package is in pyproject.toml.
"""

import os
import sys

from setuptools import setup

# The core's modules, bottom-up (engine/core/__init__.py). They are compiled together or not at all.
CORE = [f"engine/core/{name}.py" for name in ("modes", "numbers", "value", "ops", "anomaly", "backprop")]


def compiled_core() -> list:
    """The core's C extensions, each optional: without a C compiler the build goes on without them."""
    if os.environ.get("VALUEGRAD_INTERPRETED", "") not in ("", "0"):
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:  # mypy is a build requirement; without it (an offline build) the core stays Python
        return []
    # Only the core is compiled and checked: the modules it does not import (engine/__init__.py imports the
    # rest of the package) are analysed silently, as in the build environment numpy's types are missing.
    try:
        extensions = mypycify(["--follow-imports=silent", *CORE], opt_level="3", group_name="valuegrad_core")
    except (Exception, SystemExit) as error:  # mypyc refused the code: install it uncompiled, and say so
        print(f"warning: engine/core is not compiled (mypyc: {error}); it runs as Python", file=sys.stderr)
        return []
    for extension in extensions:
        extension.optional = True
    return extensions


setup(ext_modules=compiled_core())
