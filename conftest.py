"""Makes `coop` available to the doctests in docstrings and docs/ pages."""

import pytest

import coop

# The compiled kernel's modules have no Python source to take doctests from; their doctests
# run in the test command's pure-Python pass (COOP_PURE=1), which loads these very files.
collect_ignore = ([f"coop/{name}.py" for name in coop._native.COMPILED_MODULES]
                  if coop.kernel_build() == "compiled" else [])


@pytest.fixture(autouse=True)
def _add_coop(doctest_namespace: dict[str, object]) -> None:
    doctest_namespace["coop"] = coop
