"""Build settings beyond setup.cfg: the optional C speed-up of the worksheet editor.

Where the extension cannot be compiled (no C compiler), the package installs without it
and the worksheet editor runs in pure Python, giving the very same bytes.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "milestone_sheets._speedups",
            ["milestone_sheets/_speedups.c"],
            optional=True,
            extra_compile_args=["-O2"],
        )
    ]
)
