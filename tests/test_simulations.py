"""The SimPy examples ported to coop (examples/sim_*.py) print exactly what SimPy's originals
(tests/simpy_originals/) print, for the published seed and for others."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

simpy = pytest.importorskip("simpy")


def load(path: Path):
    # In-process, so that the coop under test is the one imported here (a subprocess from
    # examples/ could find another installed copy first).
    spec = importlib.util.spec_from_file_location(f"_sim_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def output(module, capsys, **kw):
    module.main(**kw)
    return capsys.readouterr().out.splitlines()


@pytest.mark.parametrize(("seed", "customers"), [(42, 5), (1, 20), (7, 40), (2024, 40)])
def test_bank_renege_prints_what_simpy_prints(capsys, seed, customers):
    original = output(load(ROOT / "tests" / "simpy_originals" / "bank_renege.py"), capsys,
                      seed=seed, customers=customers)
    port = output(load(ROOT / "examples" / "sim_bank_renege.py"), capsys, seed=seed,
                  customers=customers)
    assert port == original
    assert any("RENEGED" in line for line in original)  # both ways out are exercised
    assert len(original) > 2 * customers


def test_bank_renege_published_output(capsys):
    port = output(load(ROOT / "examples" / "sim_bank_renege.py"), capsys)
    assert port[:4] == ["Bank renege", " 0.0000 Customer00: Here I am",
                        " 0.0000 Customer00: Waited  0.000", " 3.8595 Customer00: Finished"]
    assert "13.9003 Customer02: RENEGED after  1.174" in port


@pytest.mark.parametrize(("seed", "weeks"), [(42, 4), (3, 1), (99, 1)])
def test_machine_shop_prints_what_simpy_prints(capsys, seed, weeks):
    original = output(load(ROOT / "tests" / "simpy_originals" / "machine_shop.py"), capsys,
                      seed=seed, weeks=weeks)
    port = output(load(ROOT / "examples" / "sim_machine_shop.py"), capsys, seed=seed,
                  weeks=weeks)
    assert port == original
    assert len(original) == 12


def test_machine_shop_published_output(capsys):
    port = output(load(ROOT / "examples" / "sim_machine_shop.py"), capsys)
    assert port[2:4] == ["Machine 0 made 3251 parts.", "Machine 1 made 3273 parts."]
