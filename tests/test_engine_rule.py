"""The training rule (skout._engine.rule): scikit-learn's stopping rule and
schedules, and the batch order, alike on NumPy and on a compiled backend."""

import numpy as np
import pytest

from skout._engine import rule
from skout._engine.arrays import numpy_ops

XP = numpy_ops(np.float32)


def _run(xp, losses, scores=None, **kw):
    """Apply the rule after each epoch's loss (and score); the verdicts."""
    state, rate, verdicts = rule.StoppingState(), kw.pop("learning_rate", 0.1), []
    for e, loss in enumerate(losses):
        score = None if scores is None else scores[e]
        verdict = rule.after_epoch(xp, state, loss=loss, score=score, learning_rate=rate, **kw)
        state, rate = verdict.state, verdict.learning_rate
        verdicts.append(verdict)
        if bool(verdict.stop):
            break
    return verdicts


def test_stops_after_n_iter_no_change_epochs_without_tol_improvement():
    # MLP: an epoch counts as no improvement when loss > best_loss - tol.
    losses = [1.0, 0.5, 0.49999, 0.49998, 0.49997, 0.2]
    verdicts = _run(XP, losses, tol=1e-4, patience=2, early_stopping=False)
    assert len(verdicts) == 5 and bool(verdicts[-1].stop)
    assert [int(v.state.no_improvement_count) for v in verdicts] == [0, 0, 1, 2, 3]


def test_early_stopping_judges_the_validation_score_and_flags_the_best():
    scores = [0.5, 0.7, 0.69, 0.71, 0.70, 0.70]
    verdicts = _run(XP, [1.0] * 6, scores, tol=1e-4, patience=1, early_stopping=True)
    assert [bool(v.improved) for v in verdicts] == [True, True, False, True, False, False]
    assert bool(verdicts[-1].stop) and len(verdicts) == 6
    assert float(verdicts[-1].state.best_score) == pytest.approx(0.71)


def test_invscaling_is_mlps_formula():
    v = rule.after_epoch(XP, rule.StoppingState(), loss=1.0, score=None, learning_rate=0.1,
                         tol=1e-4, patience=10, early_stopping=False, schedule="invscaling",
                         lr_init=0.1, power_t=0.5, samples_seen=99.0)  # fmt: skip
    assert float(v.learning_rate) == pytest.approx(0.1 / 100.0**0.5)


def test_adaptive_divides_by_five_on_a_plateau_instead_of_stopping():
    verdicts = _run(XP, [1.0] * 4, tol=1e-4, patience=1, early_stopping=False,
                    schedule="adaptive", learning_rate=0.1)  # fmt: skip
    rates = [float(v.learning_rate) for v in verdicts]
    assert rates[:3] == pytest.approx([0.1, 0.1, 0.02])
    assert not any(bool(v.stop) for v in verdicts)


def test_a_non_finite_loss_stops_as_diverged():
    v = rule.after_epoch(XP, rule.StoppingState(), loss=np.float32(np.nan), score=None,
                         learning_rate=0.1, tol=1e-4, patience=10,
                         early_stopping=False)  # fmt: skip
    assert bool(v.diverged) and bool(v.stop)


def test_a_compiled_backend_applies_the_same_rule():
    from skout._engine.arrays import tensorflow_ops

    losses = [1.0, 0.5, 0.49999, 0.49998, 0.49997]
    ours = _run(XP, losses, tol=1e-4, patience=2, early_stopping=False, schedule="adaptive")
    theirs = _run(tensorflow_ops("float32"), [np.float32(v) for v in losses], tol=1e-4,
                  patience=2, early_stopping=False, schedule="adaptive")  # fmt: skip
    assert [bool(v.stop) for v in ours] == [bool(v.stop) for v in theirs]
    for a, b in zip(ours, theirs, strict=True):
        assert float(a.learning_rate) == pytest.approx(float(b.learning_rate))
        assert int(a.state.no_improvement_count) == int(b.state.no_improvement_count)


def test_epoch_orders_continue_across_chunks_and_leave_order_alone_when_asked():
    whole = rule.epoch_orders(3, 0, 5, 40)
    parts = np.vstack([rule.epoch_orders(3, 0, 2, 40), rule.epoch_orders(3, 2, 3, 40)])
    np.testing.assert_array_equal(whole, parts)
    assert all(sorted(row) == list(range(40)) for row in whole)
    assert not np.array_equal(whole[0], whole[1])
    np.testing.assert_array_equal(rule.epoch_orders(3, 0, 2, 5, shuffle=False),
                                  [list(range(5))] * 2)  # fmt: skip
