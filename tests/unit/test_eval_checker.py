"""Hand-worked cases for the BFCL AST checker."""

import copy

import pytest

from toolcall_dist.eval.checker import check_entry, language_of, normalize_string
from toolcall_dist.eval.typed_values import convert_java, convert_js

pytestmark = pytest.mark.unit

WEATHER = {
    "name": "weather.get",
    "parameters": {
        "type": "dict",
        "properties": {
            "city": {"type": "string"},
            "days": {"type": "integer"},
            "temp": {"type": "float"},
            "units": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "opts": {"type": "dict"},
            "verbose": {"type": "boolean"},
        },
        "required": ["city", "days"],
    },
}
WEATHER_GT = {
    "weather.get": {
        "city": ["New York, NY", "NYC"],
        "days": [3],
        "temp": [20.0, ""],
        "units": ["celsius"],  # optional in the schema but expected: may not be omitted
        "tags": [["a", "b"], ""],
        "opts": [{"lang": ["en"], "detail": ["full", ""]}, ""],
    }
}
SIMPLE = {"id": "t0", "category": "simple_python", "function": [WEATHER], "ground_truth": [WEATHER_GT]}
GOOD = {"city": "New York, NY", "days": 3, "units": "celsius"}


def call(name="weather.get", **arguments):
    return {"name": name, "arguments": arguments}


def verdict(arguments, entry=SIMPLE, name="weather.get", **kwargs):
    return check_entry([call(name, **arguments)], entry, **kwargs)


def test_right_call_passes():
    assert verdict(GOOD) == {"valid": True, "error_type": "", "error": ""}
    full = {**GOOD, "temp": 20.0, "tags": ["a", "b"], "opts": {"lang": "en", "detail": "full"}}
    assert verdict(full)["valid"]


def test_function_name_rules():
    assert verdict(GOOD, name="weather.lookup")["error_type"] == "simple_function_checker:wrong_func_name"
    # Dotted names written with "_" (as OpenAI-style APIs require) are accepted unless the caller is strict.
    assert verdict(GOOD, name="weather_get")["valid"]
    assert not verdict(GOOD, name="weather_get", underscore_to_dot=False)["valid"]
    assert not verdict(GOOD, name="weather.get", underscore_to_dot=True)["valid"]


def test_missing_required_and_extra_params():
    assert verdict({"city": "NYC", "units": "celsius"})["error_type"] == "simple_function_checker:missing_required"
    assert verdict({**GOOD, "foo": 1})["error_type"] == "simple_function_checker:unexpected_param"
    # Declared by the function but absent from the ground truth: BFCL counts it as unexpected too.
    assert verdict({**GOOD, "verbose": True})["error_type"] == "simple_function_checker:unexpected_param"


def test_optional_omission_follows_empty_string():
    assert verdict(GOOD)["valid"]  # temp, tags, opts list "" so they may be omitted
    result = verdict({"city": "NYC", "days": 3})
    assert result["error_type"] == "simple_function_checker:missing_optional"


def test_int_for_float_passes_float_for_int_fails():
    assert verdict({**GOOD, "temp": 20})["valid"]
    assert verdict({**GOOD, "days": 3.0})["error_type"] == "type_error:simple"
    assert verdict({**GOOD, "days": True})["error_type"] == "type_error:simple"  # bool is not an int
    assert verdict({**GOOD, "temp": 21})["error_type"] == "value_error:others"


def test_string_normalisation():
    assert normalize_string("New York, NY") == normalize_string("new york ny") == "newyorkny"
    assert normalize_string("It's 2024-01-02") == 'it"s20240102'
    assert verdict({**GOOD, "city": "new york ny"})["valid"]
    assert verdict({**GOOD, "city": "n.y.c"})["valid"]
    assert verdict({**GOOD, "city": "Boston"})["error_type"] == "value_error:string"
    assert verdict({**GOOD, "city": 7})["error_type"] == "type_error:simple"


def test_list_order_matters_and_elements_are_normalised():
    assert verdict({**GOOD, "tags": ["A", "b "]})["valid"]
    assert verdict({**GOOD, "tags": ["b", "a"]})["error_type"] == "value_error:list/tuple"
    assert verdict({**GOOD, "tags": ["a"]})["error_type"] == "value_error:list/tuple"
    # BFCL skips item-type checks when some acceptable value is not a list (here ""), so this is a value error.
    assert verdict({**GOOD, "tags": ["a", 1]})["error_type"] == "value_error:list/tuple"
    assert verdict({**GOOD, "tags": "a,b"})["error_type"] == "type_error:simple"


def test_nested_dict():
    assert verdict({**GOOD, "opts": {"lang": "EN"}})["valid"]  # "detail" may be omitted, strings normalised
    assert verdict({**GOOD, "opts": {"lang": "fr"}})["error_type"] == "value_error:dict_value"
    assert verdict({**GOOD, "opts": {"lang": "en", "x": 1}})["error_type"] == "value_error:dict_key"
    assert verdict({**GOOD, "opts": {"detail": "full"}})["error_type"] == "value_error:dict_key"


def test_list_of_dicts_and_variable_answers():
    func = {
        "name": "book",
        "parameters": {
            "type": "dict",
            "properties": {"legs": {"type": "array", "items": {"type": "dict"}}, "cfg": {"type": "dict"}},
            "required": ["legs"],
        },
    }
    gt = {"book": {"legs": [[{"from": ["SFO"]}, {"from": ["JFK"]}]], "cfg": ["myConfig", ""]}}
    entry = {"id": "t1", "category": "simple_python", "function": [func], "ground_truth": [gt]}
    assert check_entry([call("book", legs=[{"from": "sfo"}, {"from": "JFK"}])], entry)["valid"]
    bad_order = check_entry([call("book", legs=[{"from": "JFK"}, {"from": "SFO"}])], entry)
    assert bad_order["error_type"] == "value_error:dict_value"
    assert check_entry([call("book", legs=[{"from": "SFO"}])], entry)["error_type"] == "value_error:list_dict_count"
    assert check_entry([call("book", legs=[{"from": "SFO"}, "JFK"])], entry)["error_type"] == "type_error:nested"
    # A string answer for a dict parameter names a variable: the model may pass it as-is (exact match).
    assert check_entry([call("book", legs=[{"from": "SFO"}, {"from": "JFK"}], cfg="myConfig")], entry)["valid"]
    assert not check_entry([call("book", legs=[{"from": "SFO"}, {"from": "JFK"}], cfg="myconfig")], entry)["valid"]


def test_call_count_and_output_format():
    assert check_entry([], SIMPLE)["error_type"] == "simple_function_checker:wrong_count"
    assert check_entry([call(**GOOD), call(**GOOD)], SIMPLE)["error_type"] == "simple_function_checker:wrong_count"
    assert check_entry([{"arguments": GOOD}], SIMPLE)["error_type"] == "ast_decoder:decoder_wrong_output_format"
    as_json = '{"city": "NYC", "days": 3, "units": "celsius"}'
    assert check_entry([{"name": "weather.get", "arguments": as_json}], SIMPLE)["valid"]


SUM = {"name": "math.sum", "parameters": {"type": "dict", "properties": {"a": {"type": "integer"}}, "required": ["a"]}}
PARALLEL = {
    "id": "p0",
    "category": "parallel",
    "function": [WEATHER, SUM],
    "ground_truth": [
        {"weather.get": {"city": ["Paris"], "days": [1], "units": ["celsius", ""]}},
        {"weather.get": {"city": ["Rome"], "days": [2], "units": ["celsius", ""]}},
        {"math.sum": {"a": [5]}},
    ],
}


def test_parallel_any_order():
    paris, rome, add = call(city="Paris", days=1), call(city="rome", days=2), call("math.sum", a=5)
    assert check_entry([paris, rome, add], PARALLEL)["valid"]
    assert check_entry([add, rome, paris], PARALLEL)["valid"]
    assert check_entry([paris, rome], PARALLEL)["error_type"] == "parallel_function_checker_no_order:wrong_count"
    # Two calls cannot both match the same ground-truth call.
    dup = check_entry([paris, paris, add], PARALLEL)
    assert dup["error_type"] == "parallel_function_checker_no_order:cannot_find_match"
    for category in ("parallel_multiple", "live_parallel", "live_parallel_multiple"):
        assert check_entry([rome, add, paris], PARALLEL, category)["valid"]


def test_multiple_requires_exactly_one_call():
    entry = {
        "id": "m0",
        "category": "multiple",
        "function": [WEATHER, SUM],
        "ground_truth": [{"math.sum": {"a": [5]}}],
    }
    assert check_entry([call("math.sum", a=5)], entry)["valid"]
    assert check_entry([call("math.sum", a=5)], entry, "live_multiple")["valid"]
    two = check_entry([call("math.sum", a=5), call("math.sum", a=5)], entry)
    assert two["error_type"] == "multiple_function_checker:wrong_count"
    assert check_entry([call(**GOOD)], entry)["error_type"] == "simple_function_checker:wrong_func_name"


def test_irrelevance_and_relevance():
    entry = {"id": "i0", "category": "irrelevance", "function": [WEATHER], "ground_truth": None}
    assert check_entry([], entry)["valid"]
    assert check_entry([{"bogus": 1}], entry)["valid"]  # malformed output is "no call", as in BFCL
    produced = check_entry([call(city="x", days=1)], entry)
    assert produced == {"valid": False, "error_type": "irrelevance:call_produced",
                        "error": "1 call(s) produced, expected none"}
    assert not check_entry([call(city="x", days=1)], entry, "live_irrelevance")["valid"]
    assert check_entry([call(city="x", days=1)], entry, "live_relevance")["valid"]  # any call will do
    assert check_entry([], entry, "live_relevance")["error_type"] == "relevance:no_call"


def test_language_of():
    assert [language_of(c) for c in ("simple_java", "simple_javascript", "live_simple")] == [
        "java",
        "javascript",
        "python",
    ]


def test_convert_java_values():
    assert convert_java("42", "integer") == 42
    assert convert_java("42L", "long") == 42 and convert_java("42", "long") == "42"  # long needs its suffix
    assert convert_java("2.5f", "float") == 2.5 and convert_java("2.5", "float") == "2.5"
    assert convert_java("2.5", "double") == 2.5 and convert_java("1e3", "double") == 1000.0
    assert convert_java("true", "boolean") is True and convert_java("True", "boolean") == "True"
    assert convert_java("hello", "String") == "hello"
    assert convert_java('new ArrayList<>(Arrays.asList("a", "b"))', "ArrayList", "String") == ["a", "b"]
    assert convert_java("new ArrayList<Long>() {{ add(1L); add(2L); }}", "ArrayList", "long") == [1, 2]
    assert convert_java("new ArrayList<>()", "ArrayList") == []
    assert convert_java("new int[]{1, 2, 3}", "Array", "integer") == [1, 2, 3]
    assert convert_java('new Object[]{1, "x", true}', "Array") == [1, "x", True]
    hashmap = 'new HashMap<String, Object>() {{ put("limit", 50); put("name", "public"); }}'
    assert convert_java(hashmap, "HashMap") == {"limit": 50, "name": "public"}
    assert convert_java("myMap", "HashMap") == "myMap"  # a variable name stays text


def test_convert_js_values():
    assert convert_js("'abc'", "String") == "abc" and convert_js("abc", "String") == "abc"
    assert convert_js("3", "float") == 3.0 and convert_js("3", "integer") == 3
    assert convert_js("10n", "Bigint") == 10
    assert convert_js("false", "Boolean") is False
    assert convert_js("['a', 'b']", "array", "String") == ["a", "b"]
    assert convert_js("[1, 2.5]", "array") == [1, 2.5]
    assert convert_js("[[1, 2], [3, 4]]", "array") == [[1, 2], [3, 4]]
    assert convert_js("{method: 'GET', retries: 3}", "dict") == {"method": "GET", "retries": 3}
    assert convert_js("{}", "dict") == {}


JAVA = {
    "id": "j0",
    "category": "simple_java",
    "function": [
        {
            "name": "Store.put",
            "parameters": {
                "type": "dict",
                "properties": {
                    "id": {"type": "long"},
                    "ratio": {"type": "double"},
                    "enabled": {"type": "boolean"},
                    "names": {"type": "ArrayList", "items": {"type": "String"}},
                    "conf": {"type": "HashMap"},
                    "label": {"type": "String"},
                },
                "required": ["id"],
            },
        }
    ],
    "ground_truth": [
        {
            "Store.put": {
                "id": [7],
                "ratio": [0.5, ""],
                "enabled": [True, ""],
                "names": [["ann", "bo"], ""],
                "conf": [{"mode": ["fast"]}, ""],
                "label": ["Main Store", ""],
            }
        }
    ],
}


def test_java_typed_strings():
    args = {
        "id": "7L",
        "ratio": "0.5",
        "enabled": "true",
        "names": 'new ArrayList<String>(Arrays.asList("ann", "bo"))',
        "conf": 'new HashMap<String, String>() {{ put("mode", "fast"); }}',
        "label": "main store",
    }
    assert check_entry([call("Store.put", **args)], JAVA)["valid"]
    assert check_entry([call("Store.put", id=7)], JAVA)["error_type"] == "type_error:java"  # must be text
    assert check_entry([call("Store.put", id="7")], JAVA)["error_type"] == "type_error:simple"  # no L suffix
    assert not check_entry([call("Store.put", id="7L", enabled="false")], JAVA)["valid"]


def test_javascript_typed_strings():
    props = {
        "items": {"type": "array", "items": {"type": "String"}},
        "flag": {"type": "Boolean"},
        "limit": {"type": "float"},
        "opts": {"type": "dict"},
    }
    entry = {
        "id": "js0",
        "category": "simple_javascript",
        "function": [{"name": "run", "parameters": {"type": "dict", "properties": props, "required": ["items"]}}],
        "ground_truth": [
            {"run": {"items": [["x", "y"]], "flag": [True, ""], "limit": [4.0], "opts": [{"m": ["GET"]}]}}
        ],
    }
    args = {"items": "['x', 'y']", "flag": "true", "limit": "4", "opts": "{m: 'get'}"}
    assert check_entry([call("run", **args)], entry)["valid"]
    assert check_entry([call("run", **{**args, "items": ["x", "y"]})], entry)["error_type"] == "type_error:js"
    assert (
        check_entry([call("run", **{**args, "items": "['y', 'x']"})], entry)["error_type"] == "value_error:list/tuple"
    )
    changed = copy.deepcopy(entry)
    changed["function"][0]["parameters"]["properties"]["limit"]["type"] = "long"  # not a BFCL JavaScript type
    assert check_entry([call("run", **args)], changed)["error_type"] == "type_error:unsupported_schema_type"


def test_nested_item_type_errors_as_bfcl_reports_them():
    func = {"name": "f", "parameters": {"type": "dict", "required": ["xs"],
                                        "properties": {"xs": {"type": "array", "items": {"type": "integer"}}}}}

    def entry(acceptable):
        return {"id": "n0", "category": "simple_python", "function": [func],
                "ground_truth": [{"f": {"xs": acceptable}}]}

    # Items of the wrong type against list answers: BFCL's nested type error.
    assert check_entry([call("f", xs=["1", "2"])], entry([[1, 2]]))["error_type"] == "type_error:nested"
    # Next to a variable-name answer (not a list) BFCL skips the item check: the value check decides.
    assert check_entry([call("f", xs=["1", "2"])], entry(["my_list", [1, 2]]))["error_type"] == "value_error:others"
    assert check_entry([call("f", xs="my_list")], entry(["my_list", [1, 2]]))["valid"]
    # An item of the answer's own item type passes the type check even where the schema says otherwise.
    assert check_entry([call("f", xs=["a"])], entry([["a"]]))["valid"]


def test_empty_list_passes_where_the_parameter_may_be_omitted():
    """BFCL turns the "" of an omittable list parameter into an empty acceptable list, so [] passes."""
    assert verdict({**GOOD, "tags": []})["valid"]
    func = {"name": "book", "parameters": {"type": "dict", "required": [],
                                           "properties": {"legs": {"type": "array", "items": {"type": "dict"}}}}}
    entry = {"id": "e0", "category": "simple_python", "function": [func],
             "ground_truth": [{"book": {"legs": [[{"from": ["SFO"]}], ""]}}]}
    assert check_entry([call("book", legs=[])], entry)["valid"]
    assert check_entry([call("book")], entry)["valid"]


def test_multiple_checks_the_call_against_the_answers_function():
    entry = {"id": "m1", "category": "live_multiple", "function": [WEATHER, SUM],
             "ground_truth": [{"weather.get": {"city": ["Paris"], "days": [1], "units": ["celsius", ""]}}]}
    assert check_entry([call(city="PARIS", days=1)], entry)["valid"]
    assert check_entry([call("math.sum", a=1)], entry)["error_type"] == "simple_function_checker:wrong_func_name"
    assert check_entry([], entry)["error_type"] == "multiple_function_checker:wrong_count"
