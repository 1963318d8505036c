"""The one compiled part of phasewatch: the token summary pass (phasewatch/tokens/_count*.c).

Everything else is in pyproject.toml. The extension is optional: without a C compiler (or on a
platform without POSIX threads and `pread`, such as Windows) the install still succeeds and the
token pass uses its numpy twin (slower, the same numbers; `phasewatch.tokens.numpy_pass`).
"""

import os

from setuptools import Extension, setup

posix = os.name == "posix"

setup(
    ext_modules=[
        Extension(
            "phasewatch.tokens._count", ["phasewatch/tokens/_count.c", "phasewatch/tokens/_count_pass.c"],
            depends=["phasewatch/tokens/_count.h"], optional=True,
            extra_compile_args=["-pthread"] if posix else [],
            extra_link_args=["-pthread"] if posix else [],
            libraries=["m"] if posix else [],
        ),
    ],
)
