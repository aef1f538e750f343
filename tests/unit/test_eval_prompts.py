"""BFCL function docs become JSON-Schema tools the way BFCL prepares them for function-calling models."""

import pytest

from toolcall_dist.eval.prompts import to_tool

pytestmark = pytest.mark.unit


def test_bfcl_function_becomes_a_json_schema_tool():
    fn = {"name": "math.hypot", "description": "Hypotenuse.",
          "parameters": {"type": "dict", "required": ["x"], "properties": {
              "x": {"type": "float", "description": "side"},
              "pts": {"type": "tuple", "items": {"type": "integer"}},
              "opts": {"type": "dict", "properties": {"type": {"type": "string", "default": "dict"}}},
              "anything": {"type": "any"}}}}
    assert to_tool(fn) == {"name": "math_hypot", "description": "Hypotenuse.",
                           "parameters": {"type": "object", "required": ["x"], "properties": {
                               "x": {"type": "number", "description": "side"},
                               "pts": {"type": "array", "items": {"type": "integer"}},
                               "opts": {"type": "object",
                                        "properties": {"type": {"type": "string", "default": "dict"}}},
                               "anything": {"type": "string"}}}}
