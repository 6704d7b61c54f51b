"""CSIModel: the default model, every specification error with its message, YAML, lavaan syntax."""

from __future__ import annotations

import re

import numpy as np
import pytest

from csi_research.core.errors import ModelSpecError
from csi_research.model import CSIModel

SMALL = {"A": ["a1", "a2"], "B": ["b1"], "C": ["c1", "c2"]}


def test_default_model_shape():
    model = CSIModel.default()
    assert model.names == [
        "Image", "Expectation", "Quality", "Value", "Satisfaction", "Complaints", "Loyalty"
    ]
    assert len(model.paths) == 12
    assert len(model.items) == 30
    assert model.exogenous == ["Image"]
    assert model.predecessors("Satisfaction") == ["Image", "Expectation", "Quality", "Value"]
    assert model.labels["Quality"] == ("感知质量", "Perceived quality")
    assert model.adjacency().sum() == 12
    assert model.adjacency()[0, 1] == 1  # Image -> Expectation


@pytest.mark.parametrize(
    ("constructs", "paths", "message"),
    [
        (SMALL, [("A", "B"), ("B", "D")],
         "path B -> D: unknown construct D; known constructs: A, B, C"),
        ({**SMALL, "B": []}, [("A", "B"), ("B", "C")],
         "construct B has no items: list at least one indicator column"),
        ({**SMALL, "C": ["c1", "a2"]}, [("A", "B"), ("B", "C")],
         "item a2 is in two constructs (A and C): each item measures one construct"),
        (SMALL, [("A", "B"), ("B", "C"), ("A", "B")], "path A -> B is listed twice"),
        (SMALL, [("A", "B"), ("B", "C"), ("C", "C")],
         "path C -> C is a self-loop: a construct cannot cause itself"),
        (SMALL, [("A", "B"), ("B", "C"), ("C", "A")],
         "the structural model has a cycle A -> B -> C -> A: the CSI model must be recursive"),
        (SMALL, [("A", "B")],
         "construct(s) C have no path to or from any other construct: add a path or remove the construct"),
        ({}, [], "the model has no constructs"),
    ],
    ids=["unknown", "no-items", "two-constructs", "duplicate", "self-loop", "cycle", "isolated", "empty"],
)
def test_spec_errors_have_exact_messages(constructs, paths, message):
    with pytest.raises(ModelSpecError, match=f"^{re.escape(message)}$"):
        CSIModel(constructs, paths)


def test_bad_mode_and_malformed_path():
    with pytest.raises(ModelSpecError, match=r"^construct A: mode 'C' is not 'A' \(reflective\)"):
        CSIModel(SMALL, [("A", "B"), ("B", "C")], modes={"A": "C"})
    with pytest.raises(ModelSpecError, match="must name a source and a target"):
        CSIModel(SMALL, ["A -> "])


def test_from_dict_rejects_unknown_keys():
    with pytest.raises(ModelSpecError, match=r"^model: unknown key\(s\) \['weights'\]"):
        CSIModel.from_dict({"constructs": SMALL, "paths": ["A -> B"], "weights": {}})
    with pytest.raises(ModelSpecError, match="needs the keys 'constructs' and 'paths'"):
        CSIModel.from_dict({"constructs": SMALL})


def test_yaml_round_trip(tmp_path):
    model = CSIModel(SMALL, [("A", "B"), ("B", "C")], modes={"B": "b"}, labels={"A": ("甲", "Alpha")})
    path = tmp_path / "model.yaml"
    text = model.to_yaml(path)
    assert "A -> B" in text and "甲" in text
    back = CSIModel.from_yaml(path)
    assert back == model
    assert back.modes["B"] == "B"
    assert CSIModel.from_dict(CSIModel.default().to_dict()) == CSIModel.default()


def test_yaml_blocks_without_labels_keep_the_standard_labels():
    spec = {"constructs": {"Image": {"items": ["a"]}, "Loyalty": {"items": ["b"], "label_en": "Loyal"}},
            "paths": ["Image -> Loyalty"]}
    model = CSIModel.from_dict(spec)
    assert model.labels["Image"] == ("企业形象", "Image")
    assert model.labels["Loyalty"] == ("Loyalty", "Loyal")
    with pytest.raises(ModelSpecError, match="'constructs' must map each construct name"):
        CSIModel.from_dict({"constructs": ["Image"], "paths": []})


def test_yaml_short_form_and_unreadable_file(tmp_path):
    model = CSIModel.from_dict({"constructs": {"A": ["a1"], "B": ["b1", "b2"]}, "paths": ["A->B"]})
    assert model.paths == (("A", "B"),)
    assert model.modes == {"A": "A", "B": "A"}
    with pytest.raises(ModelSpecError, match="cannot read the model file"):
        CSIModel.from_yaml(tmp_path / "absent.yaml")


def test_lavaan_syntax():
    model = CSIModel(SMALL, [("A", "B"), ("A", "C"), ("B", "C")])
    assert model.lavaan_syntax() == "A =~ a1 + a2\nB =~ b1\nC =~ c1 + c2\nB ~ A\nC ~ A + B\n"
    lines = CSIModel.default().lavaan_syntax().splitlines()
    assert "Satisfaction ~ Image + Expectation + Quality + Value" in lines
    assert "Loyalty ~ Image + Satisfaction + Complaints" in lines
    assert sum("=~" in line for line in lines) == 7 and sum(" ~ " in line for line in lines) == 6


def test_with_paths_keeps_measurement_model():
    model = CSIModel.default().with_paths([("Image", "Satisfaction"), ("Expectation", "Satisfaction"),
                                           ("Quality", "Satisfaction"), ("Value", "Satisfaction"),
                                           ("Satisfaction", "Complaints"), ("Satisfaction", "Loyalty")])
    assert model.constructs == CSIModel.default().constructs
    assert np.array_equal(model.adjacency().sum(axis=0)[[4, 5, 6]], [4, 1, 1])
