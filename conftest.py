"""Makes `coop` available to the doctests in docstrings and docs/ pages."""

import os

import pytest

import coop

# The compiled kernel's modules have no Python source to take doctests from; their doctests
# run in the test command's pure-Python pass (COOP_PURE=1), which loads these very files.
_native = coop._native
collect_ignore = ([f"coop/{_native.BUILT_FROM[name]}" for name in _native.COMPILED_MODULES]
                  if coop.kernel_build() == "compiled" else [])


def pytest_collection_finish(session: pytest.Session) -> None:
    # dev.py asks for the count: with -q, pytest itself says nothing until the end.
    if os.environ.get("COOP_DEV_COUNT"):
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"pytest: {len(session.items)} tests, kernel "
                                f"{coop.kernel_build()}")


@pytest.fixture(autouse=True)
def _add_coop(doctest_namespace: dict[str, object]) -> None:
    doctest_namespace["coop"] = coop
