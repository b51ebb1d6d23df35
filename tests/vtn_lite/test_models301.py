"""OpenADR 3.0.1 wire models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from ven_edge.oadr3.operations import VERB_OF_OPERATION
from vtn_lite.wire import models, models301

SAMPLES = Path(__file__).resolve().parents[2] / "sample_data"


def test_sample_program_and_event_are_301_shapes() -> None:
    program = models301.Program301.model_validate_json(
        (SAMPLES / "program_pricing.json").read_text()
    )
    assert program.retailer_long_name == "Pacific Utility Company"
    event = models301.Event301.model_validate(
        json.loads((SAMPLES / "event_pricing.json").read_text())
    )
    assert len(event.intervals) == 13
    assert models.dump(event)["intervalPeriod"]["start"] == "2026-02-17T19:00:00Z"


def test_301_requirements() -> None:
    with pytest.raises(ValidationError):
        models301.Event301.model_validate({"programID": "p"})  # intervals required
    with pytest.raises(ValidationError):
        models301.Subscription301.model_validate({"clientName": "c", "objectOperations": []})
    with pytest.raises(ValidationError):
        models301.IntervalPeriod301.model_validate({"duration": "PT1H"})


def test_typed_targets_and_verbs() -> None:
    sub = models301.Subscription301.model_validate(
        {
            "clientName": "c",
            "programID": "p",
            "targets": [{"type": "GROUP", "values": ["g1"]}],
            "objectOperations": [
                {"objects": ["EVENT"], "operations": ["POST", "DELETE"], "callbackUrl": "https://x"}
            ],
        }
    )
    assert sub.object_operations[0].operations == ["CREATE", "DELETE"]
    assert [VERB_OF_OPERATION[op] for op in sub.object_operations[0].operations] == [
        "POST",
        "DELETE",
    ]
    assert sub.targets is not None
    assert sub.targets[0].values == ["g1"]
    ven = models301.Ven301.model_validate(
        {"venName": "v", "resources": [{"resourceName": "r", "venID": None}]}
    )
    assert ven.resources is not None
    assert ven.resources[0].ven_id is None
