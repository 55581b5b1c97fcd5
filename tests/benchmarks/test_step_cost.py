import pytest

from tests.benchmarks import _script


@pytest.fixture(scope="module")
def step_cost():
    return _script.load("step_cost")


def test_one_default_quadreg_row_per_iterations(step_cost):
    rows = {label: factory for label, _, factory in step_cost.objectives((5, 2))}
    quadreg = [label for label in rows if label.startswith("quadreg random, adversarial")]
    assert quadreg == ["quadreg random, adversarial, K=5", "quadreg random, adversarial, K=2"]
    assert rows["quadreg random, adversarial, K=5"]().iterations == 5


@pytest.mark.parametrize("flags", [["0"], ["3", "3"]])
def test_refuses_iterations_below_one_or_repeated(step_cost, flags, capsys):
    with pytest.raises(SystemExit):
        step_cost.main(["--iterations", *flags])
    assert capsys.readouterr().err.endswith(
        f"error: Expected distinct --iterations >= 1. Received: --iterations {' '.join(flags)}\n"
    )
