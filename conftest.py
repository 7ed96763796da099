"""Makes `coop` available to the doctests in docstrings and docs/ pages."""

import pytest

import coop


@pytest.fixture(autouse=True)
def _add_coop(doctest_namespace: dict[str, object]) -> None:
    doctest_namespace["coop"] = coop
