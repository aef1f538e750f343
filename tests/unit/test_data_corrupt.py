"""Bad-call corruptions on hand-written calls, with hand-worked expected outputs."""

from __future__ import annotations

import copy
import random

import pytest

from toolcall_dist.data.corrupt import (
    CORRUPTIONS,
    corrupt,
    dropped_required,
    extra_argument,
    invalid_enum,
    missing_parallel_call,
    misspelled_entity,
    swapped_arguments,
    typo,
    unit_glued,
    unresolved_date,
    wrong_function,
    wrong_type,
)
from toolcall_dist.data.tools import get_tool

pytestmark = pytest.mark.unit

FX = [get_tool("convert_currency_amount")]
FX_TEXT = "Convert 30 dollars to euros."
FX_CALL = [{"name": "convert_currency_amount", "arguments": {"amount": 30, "from_currency": "USD",
                                                             "to_currency": "EUR"}}]
WX = [get_tool("city_weather_forecast")]
WX_TEXT = "What's the weather in Tokyo tomorrow in Celsius?"
WX_CALL = [{"name": "city_weather_forecast", "arguments": {"city": "Tokyo", "date": "2026-11-25", "units": "celsius"}}]


def _rng():
    return random.Random(0)


def _fx(**args):
    return [{"name": "convert_currency_amount", "arguments": {**FX_CALL[0]["arguments"], **args}}]


@pytest.mark.parametrize("word,expected", [("Tokyo", "Tokio"), ("Sydney", "Sidney"), ("Seattle", "Seatle"),
                                           ("Paris", "Prais"), ("London", "Lodnon"), ("Oslo", "Olso")])
def test_typo(word, expected):
    assert typo(word) == expected


def test_misspelled_entity():
    assert misspelled_entity(WX_CALL, WX, WX_TEXT, _rng()) == [
        {"name": "city_weather_forecast", "arguments": {"city": "Tokio", "date": "2026-11-25", "units": "celsius"}}]
    # multi-word entity: the longest word gets the typo
    call = [{"name": "sports_fixture_lookup", "arguments": {"team": "Real Madrid", "date": "2026-11-25"}}]
    out = misspelled_entity(call, [get_tool("sports_fixture_lookup")], "Do Real Madrid play tomorrow?", _rng())
    assert out[0]["arguments"]["team"] == "Real Mardid"
    assert misspelled_entity(FX_CALL, FX, FX_TEXT, _rng()) is None  # codes are not in the user's words


def test_unresolved_date():
    assert unresolved_date(WX_CALL, WX, WX_TEXT, _rng())[0]["arguments"]["date"] == "tomorrow"
    call = [{"name": "city_weather_forecast", "arguments": {"city": "Oslo", "date": "2026-12-03"}}]
    out = unresolved_date(call, WX, "Weather in Oslo on December 3?", _rng())
    assert out == [{"name": "city_weather_forecast", "arguments": {"city": "Oslo", "date": "December 3"}}]
    # two dates, two phrases: each call keeps its own phrase
    calls = [{"name": "city_weather_forecast", "arguments": {"city": "Oslo", "date": "2026-11-25"}},
             {"name": "city_weather_forecast", "arguments": {"city": "Rome", "date": "2026-11-27"}}]
    text = "Get the forecast for Oslo tomorrow and for Rome next Friday."
    outs = {tuple(c["arguments"]["date"] for c in unresolved_date(calls, WX, text, random.Random(s)))
            for s in range(10)}
    assert outs == {("tomorrow", "2026-11-27"), ("2026-11-25", "next Friday")}
    assert unresolved_date(FX_CALL, FX, FX_TEXT, _rng()) is None


def test_dropped_required():
    call = [{"name": "order_status_lookup", "arguments": {"order_id": "ORD-10432"}}]
    assert dropped_required(call, [get_tool("order_status_lookup")], "Where is ORD-10432?", _rng()) == [
        {"name": "order_status_lookup", "arguments": {}}]
    out = dropped_required(WX_CALL, WX, WX_TEXT, _rng())[0]["arguments"]
    assert "units" in out and len(out) == 2  # only a required key (city or date) may go


def test_wrong_type():
    assert wrong_type(FX_CALL, FX, FX_TEXT, _rng()) == _fx(amount="30")
    call = [{"name": "portfolio_quotes", "arguments": {"tickers": ["AAPL", "MSFT"]}}]
    assert wrong_type(call, [get_tool("portfolio_quotes")], "AAPL and MSFT", _rng()) == [
        {"name": "portfolio_quotes", "arguments": {"tickers": "AAPL, MSFT"}}]
    call = [{"name": "weather_air_quality", "arguments": {"city": "Oslo", "include_pollutants": True}}]
    assert wrong_type(call, [get_tool("weather_air_quality")], "", _rng())[0]["arguments"]["include_pollutants"] \
        == "true"
    assert wrong_type(WX_CALL, WX, WX_TEXT, _rng()) is None


def test_unit_glued():
    assert unit_glued(FX_CALL, FX, FX_TEXT, _rng()) == _fx(amount="30 USD")
    call = [{"name": "find_nearby_places", "arguments": {"place_type": "cafe", "city": "Oslo", "radius_km": 5}}]
    out = unit_glued(call, [get_tool("find_nearby_places")], "Find cafes in Oslo within 5 km.", _rng())
    assert out[0]["arguments"]["radius_km"] == "5km"
    call = [{"name": "percentage_of_value", "arguments": {"percent": 15, "value": 40}}]
    assert unit_glued(call, [get_tool("percentage_of_value")], "What is 15% of 40?", _rng()) == [
        {"name": "percentage_of_value", "arguments": {"percent": "15%", "value": 40}}]
    assert unit_glued(WX_CALL, WX, WX_TEXT, _rng()) is None


def test_wrong_function():
    tools = WX + [get_tool("stock_quote_lookup")]
    assert wrong_function(WX_CALL, tools, WX_TEXT, _rng()) == [
        {"name": "stock_quote_lookup", "arguments": WX_CALL[0]["arguments"]}]
    # a single offered tool: a same-domain sibling from the library
    assert wrong_function(WX_CALL, WX, WX_TEXT, _rng())[0]["name"] in {"weather_air_quality", "weather_rain_outlook"}


def test_extra_argument():
    out = extra_argument(WX_CALL, WX, WX_TEXT, _rng())[0]["arguments"]
    extra = set(out) - set(WX_CALL[0]["arguments"])
    assert len(extra) == 1 and not extra & set(WX[0]["parameters"]["properties"])
    assert {k: out[k] for k in WX_CALL[0]["arguments"]} == WX_CALL[0]["arguments"]


def test_swapped_arguments():
    assert swapped_arguments(FX_CALL, FX, FX_TEXT, _rng()) == _fx(from_currency="EUR", to_currency="USD")
    call = [{"name": "search_flight_options", "arguments": {"origin": "Oslo", "destination": "Rome",
                                                            "date": "2026-11-25"}}]
    for seed in range(5):  # the look-alike pair wins over city/date
        out = swapped_arguments(call, [get_tool("search_flight_options")], "", random.Random(seed))
        assert out[0]["arguments"] == {"origin": "Rome", "destination": "Oslo", "date": "2026-11-25"}
    call = [{"name": "order_status_lookup", "arguments": {"order_id": "ORD-10432"}}]
    assert swapped_arguments(call, [get_tool("order_status_lookup")], "", _rng()) is None


def test_invalid_enum():
    assert invalid_enum(WX_CALL, WX, WX_TEXT, _rng())[0]["arguments"]["units"] == "Celsius"
    call = [{"name": "search_flight_options", "arguments": {"origin": "Oslo", "destination": "Rome",
                                                            "date": "2026-11-25", "cabin": "premium_economy"}}]
    out = invalid_enum(call, [get_tool("search_flight_options")], "", _rng())
    assert out[0]["arguments"]["cabin"] == "premium economy"
    assert invalid_enum(FX_CALL, FX, FX_TEXT, _rng()) is None


def test_missing_parallel_call():
    calls = WX_CALL + [{"name": "city_weather_forecast", "arguments": {"city": "Oslo", "date": "2026-11-25"}}]
    assert missing_parallel_call(calls, WX, "", random.Random(0)) in ([calls[0]], [calls[1]])
    assert missing_parallel_call(WX_CALL, WX, WX_TEXT, _rng()) is None


def test_corrupt_dispatch():
    before = copy.deepcopy(FX_CALL)
    seen = set()
    for seed in range(40):
        kind, bad = corrupt(FX_CALL, FX, FX_TEXT, random.Random(seed))
        assert kind in CORRUPTIONS and bad != FX_CALL
        seen.add(kind)
    assert FX_CALL == before  # inputs are never mutated
    assert {"wrong_type", "unit_glued", "swapped_arguments", "dropped_required"} <= seen
    assert corrupt(FX_CALL, FX, FX_TEXT, _rng(), kinds=["wrong_type"]) == ("wrong_type", _fx(amount="30"))
    assert corrupt(FX_CALL, FX, FX_TEXT, _rng(), kinds=["missing_parallel_call", "invalid_enum"]) is None
    with pytest.raises(ValueError, match="typo_everything"):
        corrupt(FX_CALL, FX, FX_TEXT, _rng(), kinds=["typo_everything"])
