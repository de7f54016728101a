"""Build valuegrad: engine/core compiled with mypyc where a C compiler is available, else pure Python.

The compiled core is the same source as the interpreted one (mypyc compiles ordinary typed Python), so
the Python files stay the one implementation a learner reads; `engine.COMPILED` says which runs. Set
VALUEGRAD_INTERPRETED=1 to build (and to run) without the compiled core. Everything else about the
package is in pyproject.toml.
"""

import os
import shutil
import sys
import sysconfig
from pathlib import Path

from setuptools import setup

# The core's modules, bottom-up (engine/core/__init__.py), compiled as one group: small modules around one
# shared library, valuegrad_core__mypyc (engine/build.py's SHARED_LIBRARY). At run time the core runs from its
# Python source unless all of them are there (engine/build.py), so a build that failed half way does no harm.
CORE = [f"engine/core/{name}.py" for name in ("modes", "numbers", "op", "ops", "anomaly", "backprop", "value", "grad")]
GROUP = "valuegrad_core"


def can_compile() -> bool:
    """Whether this machine has what building a C extension needs: a C compiler and Python's headers."""
    compiler = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    headers = Path(sysconfig.get_paths()["include"]) / "Python.h"
    return shutil.which(compiler.split()[0]) is not None and headers.is_file()


def compiled_core() -> list:
    """The core's C extensions, each optional: where one cannot be compiled the build goes on without it."""
    if os.environ.get("VALUEGRAD_INTERPRETED", "") not in ("", "0"):
        return []
    if not can_compile():  # no extensions at all: the wheel is then a pure-Python one
        print("note: no C compiler or no Python headers here: engine/core runs as Python", file=sys.stderr)
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:  # mypy is a build requirement, so only a build without isolation can lack it
        return []
    # Only the core is compiled and checked: the modules it does not import (engine/__init__.py imports the
    # rest of the package) are analysed silently, as in the build environment numpy's types are missing.
    try:
        extensions = mypycify(["--follow-imports=silent", *CORE], opt_level="3", group_name=GROUP)
    except (Exception, SystemExit) as error:  # mypyc refused the code: install it uncompiled, and say so
        print(f"warning: engine/core is not compiled (mypyc: {error}); it runs as Python", file=sys.stderr)
        return []
    for extension in extensions:
        extension.optional = True
    return extensions


setup(ext_modules=compiled_core())
