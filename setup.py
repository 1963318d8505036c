"""The one compiled part of phasewatch: the token pass's counting kernel (phasewatch/tokens/_count.c).

Everything else is in pyproject.toml. The extension is optional: without a C compiler the
install still succeeds and the token pass uses its numpy twin (slower; `phasewatch.tokens.counting`).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("phasewatch.tokens._count", ["phasewatch/tokens/_count.c"], optional=True),
    ],
)
