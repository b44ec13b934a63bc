"""`sena bench generate`'s scoring: failure classes, the example's arguments, the figures."""

from __future__ import annotations

from bench.generate import arguments_for, figures, reason


def test_failures_are_put_in_classes_by_their_last_error() -> None:
    assert reason(["attempt 1: syntax error on line 2", "attempt 2: import of 'time' is not allowed"]) == (
        "forbidden import"
    )
    assert reason(["attempt 3: run(x=1) returned '1', but the user expects '2'"]) == "wrong on the user's example"
    assert (
        reason(["attempt 3: run(x=1.0) failed: ZeroDivisionError: division by zero (line 9)"]) == "raised in a sample"
    )
    assert reason(["attempt 3: run() returned its input unchanged for every sample"]) == "returned its input"
    assert reason(["attempt 3: something new"]) == "other"


def test_the_examples_arguments_follow_the_extensions_parameter_names() -> None:
    example = {"describe": "150 dollars at 0.92", "args": {"amount": 150, "rate": 0.92, "note": "usd"}}
    assert arguments_for([("amount", "number"), ("rate", "number")], example) == {"amount": 150, "rate": 0.92}
    assert arguments_for([("usd", "number"), ("per_dollar", "number")], example) == {"usd": 150, "per_dollar": 0.92}
    assert arguments_for([("text", "string")], example) == {"text": "usd"}
    assert arguments_for([("text", "string")], {"describe": "x", "args": {"n": 3}}) == {}


def test_figures_count_success_first_attempt_correctness_and_slow_requests() -> None:
    rows = [
        {"id": "a", "category": "text", "status": "success", "attempts": 1, "correct": True, "seconds": 20.0,
         "reason": None, "repairs": ["x"]},
        {"id": "b", "category": "text", "status": "success", "attempts": 2, "correct": False, "seconds": 70.0,
         "reason": None, "repairs": []},
        {"id": "c", "category": "dates", "status": "test_failed", "attempts": 3, "correct": False, "seconds": 90.0,
         "reason": "raised in a sample", "repairs": []},
    ]  # fmt: skip
    report = figures(rows)
    assert (report["success_first_attempt"], report["success"], report["correct_on_example"]) == (0.333, 0.667, 0.333)
    assert report["over_60_s"] == 2 and report["repairs"] == 1
    assert report["failure_reasons"] == {"raised in a sample": 1}
    assert report["by_category"]["text"] == {"requests": 2, "success": 2, "correct": 1}
