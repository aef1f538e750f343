"""Math, unit-conversion, sports and food tools."""

from __future__ import annotations

import math
import statistics

from .toolspec import DATE_DESC, Param, ToolSpec, array_prop, enum_prop, prop
from .vocab import FOODS, INGREDIENTS, PLAYERS, TEAMS, DatePhrase, IntRange, Pairs, Pick, PickList

_LENGTH_M = {"km": 1000.0, "mi": 1609.344, "m": 1.0, "ft": 0.3048}
_WEIGHT_G = {"kg": 1000.0, "lb": 453.592, "g": 1.0, "oz": 28.3495}
_LEAGUES = {"premier_league": ["Premier League"], "la_liga": ["La Liga"], "serie_a": ["Serie A"],
            "nba": ["NBA"], "nfl": ["NFL"]}
_STATS = {"mean": statistics.mean, "median": statistics.median, "stdev": statistics.stdev, "sum": math.fsum}


def _roots(a: dict) -> str:
    disc = a["b"] ** 2 - 4 * a["a"] * a["c"]
    if disc < 0:
        return "complex (no real roots)"
    x1, x2 = ((-a["b"] + s * math.sqrt(disc)) / (2 * a["a"]) for s in (1, -1))
    return f"{round(x1, 3)} and {round(x2, 3)}"


def _temp(v: float, src: str, dst: str) -> float:
    c = v if src == "celsius" else (v - 32) * 5 / 9 if src == "fahrenheit" else v - 273.15
    out = c if dst == "celsius" else c * 9 / 5 + 32 if dst == "fahrenheit" else c + 273.15
    return round(out, 2)


def _units(table: dict, words: dict, desc: str, values: list) -> tuple[Param, ...]:
    # the three params shared by the value/from/to converters
    return (Param("value", prop("number", f"{desc} to convert."), Pick(values)),
            Param("from_unit", enum_prop(list(table), "Source unit."), Pairs(words)),
            Param("to_unit", enum_prop(list(table), "Target unit."), Pairs(words)))


_UNIT_Q = ("How many {to_unit} is {value} {from_unit}?", "Convert {value} {from_unit} to {to_unit}.")
_UNIT_C = ("convert {value} {from_unit} into {to_unit}",)

TOOLS = [
    ToolSpec(
        name="quadratic_roots_solver", domain="math",
        description="Real roots of a*x^2 + b*x + c = 0.",
        capability="solve equations",
        params=(Param("a", prop("integer", "Coefficient of x^2 (non-zero)."), IntRange(1, 5)),
                Param("b", prop("integer", "Coefficient of x."), IntRange(-10, 10)),
                Param("c", prop("integer", "Constant term."), IntRange(-10, 10))),
        questions=("Find the roots of the quadratic with a = {a}, b = {b}, c = {c}.",
                   "Solve a*x^2 + b*x + c = 0 where a is {a}, b is {b} and c is {c}."),
        clauses=("solve the quadratic with a = {a}, b = {b}, c = {c}",),
        result=lambda a, r: {"roots": _roots(a)},
        answer="The roots are {roots}.",
    ),
    ToolSpec(
        name="compute_number_stats", domain="math",
        description="Summary statistic of a list of numbers.",
        capability="compute statistics",
        params=(Param("numbers", array_prop("number", "The numbers."), PickList(list(range(1, 100)), 3, 6)),
                Param("measure", enum_prop(list(_STATS), "Statistic to compute."),
                      Pairs({"mean": ["mean", "average"], "median": ["median"], "stdev": ["standard deviation"],
                             "sum": ["sum", "total"]}))),
        questions=("What's the {measure} of {numbers}?", "Compute the {measure} of these numbers: {numbers}."),
        clauses=("compute the {measure} of {numbers}",),
        result=lambda a, r: {"value": round(_STATS[a["measure"]](a["numbers"]), 3)},
        answer="The {measure} is {value}.",
    ),
    ToolSpec(
        name="percentage_of_value", domain="math",
        description="Compute a percentage of a number.",
        capability="compute percentages",
        params=(Param("percent", prop("number", "The percentage."), Pick([5, 10, 12.5, 15, 18, 20, 25, 33, 75])),
                Param("value", prop("number", "The base number."), Pick([40, 80, 120, 250, 640, 1200, 3000]))),
        questions=("What is {percent}% of {value}?", "Calculate {percent} percent of {value}."),
        clauses=("work out {percent}% of {value}",),
        result=lambda a, r: {"result": round(a["percent"] * a["value"] / 100, 2)},
        answer="{percent}% of {value} is {result}.",
    ),
    ToolSpec(
        name="integer_gcd_lcm", domain="math",
        description="Greatest common divisor or least common multiple of two integers.",
        capability="compute divisors and multiples",
        params=(Param("a", prop("integer", "First integer."), IntRange(2, 200)),
                Param("b", prop("integer", "Second integer."), IntRange(2, 200)),
                Param("operation", enum_prop(["gcd", "lcm"], "Which quantity."),
                      Pairs({"gcd": ["greatest common divisor", "GCD"], "lcm": ["least common multiple", "LCM"]}))),
        questions=("What's the {operation} of {a} and {b}?", "Find the {operation} of {a} and {b}."),
        clauses=("find the {operation} of {a} and {b}",),
        result=lambda a, r: {"result": math.gcd(a["a"], a["b"]) if a["operation"] == "gcd"
                             else math.lcm(a["a"], a["b"])},
        answer="The {operation} of {a} and {b} is {result}.",
        distinct=("a", "b"),
    ),
    ToolSpec(
        name="convert_length_units", domain="units",
        description="Convert a length between km, miles, metres and feet.",
        capability="convert lengths",
        params=_units(_LENGTH_M, {"km": ["km", "kilometers"], "mi": ["miles"], "m": ["meters"], "ft": ["feet"]},
                      "Length", [1, 2.5, 5, 10, 26.2, 42, 100, 400]),
        questions=_UNIT_Q, clauses=_UNIT_C,
        result=lambda a, r: {"result": round(a["value"] * _LENGTH_M[a["from_unit"]] / _LENGTH_M[a["to_unit"]], 3)},
        answer="{value} {from_unit} is {result} {to_unit}.",
        distinct=("from_unit", "to_unit"),
    ),
    ToolSpec(
        name="convert_weight_units", domain="units",
        description="Convert a weight between kg, pounds, grams and ounces.",
        capability="convert weights",
        params=_units(_WEIGHT_G, {"kg": ["kg", "kilograms"], "lb": ["pounds", "lbs"], "g": ["grams"],
                                  "oz": ["ounces"]}, "Weight", [0.5, 2, 5, 12, 70, 250, 1000]),
        questions=_UNIT_Q, clauses=_UNIT_C,
        result=lambda a, r: {"result": round(a["value"] * _WEIGHT_G[a["from_unit"]] / _WEIGHT_G[a["to_unit"]], 3)},
        answer="{value} {from_unit} is {result} {to_unit}.",
        distinct=("from_unit", "to_unit"),
    ),
    ToolSpec(
        name="convert_temperature_scale", domain="units",
        description="Convert a temperature between Celsius, Fahrenheit and Kelvin.",
        capability="convert temperatures",
        params=(Param("value", prop("number", "Temperature to convert."), Pick([-40, -5, 0, 21, 37, 68, 100, 451])),
                Param("from_scale", enum_prop(["celsius", "fahrenheit", "kelvin"], "Source scale."),
                      Pairs({"celsius": ["degrees Celsius", "°C"], "fahrenheit": ["degrees Fahrenheit", "°F"],
                             "kelvin": ["Kelvin"]})),
                Param("to_scale", enum_prop(["celsius", "fahrenheit", "kelvin"], "Target scale."),
                      Pairs({"celsius": ["Celsius"], "fahrenheit": ["Fahrenheit"], "kelvin": ["Kelvin"]}))),
        questions=("What is {value} {from_scale} in {to_scale}?", "Convert {value} {from_scale} to {to_scale}."),
        clauses=("convert {value} {from_scale} to {to_scale}",),
        result=lambda a, r: {"result": _temp(a["value"], a["from_scale"], a["to_scale"])},
        answer="{value} degrees {from_scale} equals {result} degrees {to_scale}.",
        distinct=("from_scale", "to_scale"),
    ),
    ToolSpec(
        name="sports_fixture_lookup", domain="sports",
        description="Whether and against whom a team plays on a date.",
        capability="look up sports fixtures",
        params=(Param("team", prop("string", "Team name."), Pick(TEAMS)),
                Param("date", prop("string", DATE_DESC), DatePhrase())),
        questions=("Do {team} have a game {date}?", "Who are {team} playing {date}?"),
        clauses=("check whether {team} play {date}",),
        result=lambda a, r: {"opponent": r.choice([t for t in TEAMS if t != a["team"]]),
                             "kickoff": f"{r.randint(12, 21)}:00"},
        answer="{team} play {opponent} on {date} at {kickoff}.",
    ),
    ToolSpec(
        name="league_standings_table", domain="sports",
        description="Current or historical league table.",
        capability="show league standings",
        params=(Param("league", enum_prop(list(_LEAGUES), "League."), Pairs(_LEAGUES)),
                Param("season", prop("integer", "Season start year.", default=2026), Pick([2022, 2023, 2024, 2025,
                                                                                          2026]), required=False)),
        questions=("Show me the {league} table[ for the {season} season].",
                   "Who's top of the {league}[ in the {season} season]?"),
        clauses=("get the {league} standings[ for the {season} season]",),
        result=lambda a, r: {"leader": r.choice(TEAMS), "points": r.randint(20, 90)},
        answer="{leader} lead the table with {points} points.",
    ),
    ToolSpec(
        name="player_season_stats", domain="sports",
        description="A player's statistics for one season.",
        capability="look up player statistics",
        params=(Param("player", prop("string", "Player full name."), Pick(PLAYERS)),
                Param("season", prop("integer", "Season start year."), Pick([2021, 2022, 2023, 2024, 2025])),
                Param("stats", {"type": "array", "items": {"type": "string", "enum": ["goals", "assists", "minutes"]},
                                "description": "Which statistics to return."},
                      PickList(["goals", "assists", "minutes"], 1, 2), required=False)),
        questions=("How did {player} do in the {season} season[, specifically {stats}]?",
                   "Pull {player}'s stats for {season}[ (just {stats})]."),
        clauses=("get {player}'s stats for the {season} season[ (just {stats})]",),
        result=lambda a, r: {"summary": f"{r.randint(0, 30)} goals and {r.randint(0, 20)} assists"},
        answer="{player} recorded {summary} in {season}.",
    ),
    ToolSpec(
        name="recipe_finder", domain="food",
        description="Find recipes that use given ingredients.",
        capability="find recipes",
        params=(Param("ingredients", array_prop("string", "Ingredients to use."), PickList(INGREDIENTS, 2, 3)),
                Param("max_minutes", prop("integer", "Maximum cooking time.", default=60),
                      Pick([15, 20, 30, 45, 60]), required=False),
                Param("diet", enum_prop(["any", "vegetarian", "vegan", "gluten_free"], "Diet.", default="any"),
                      Pairs({"any": ["any diet is fine"], "vegetarian": ["vegetarian"], "vegan": ["vegan"],
                             "gluten_free": ["gluten-free"]}), required=False)),
        questions=("Find me a recipe using {ingredients}[ that takes under {max_minutes} minutes][ ({diet})].",
                   "What can I cook with {ingredients}?[ I have {max_minutes} minutes.][ Diet: {diet}.]"),
        clauses=("find a recipe with {ingredients}[ under {max_minutes} minutes][ ({diet})]",),
        result=lambda a, r: {"title": r.choice(["Skillet Bake", "Quick Stir-Fry", "Sheet-Pan Supper"]),
                             "minutes": r.randint(10, 60)},
        answer='Try "{title}", ready in {minutes} minutes.',
    ),
    ToolSpec(
        name="nutrition_facts_lookup", domain="food",
        description="Calories and macronutrients for a food.",
        capability="look up nutrition facts",
        params=(Param("food", prop("string", "Food name."), Pick(FOODS)),
                Param("grams", prop("integer", "Portion size in grams.", default=100),
                      Pick([50, 100, 150, 200, 250]), required=False)),
        questions=("How many calories are in[ {grams} grams of] {food}?",
                   "Give me the nutrition facts for {food}[ per {grams} grams]."),
        clauses=("look up the nutrition facts for {food}[ per {grams} grams]",),
        result=lambda a, r: {"calories": r.randint(40, 600), "protein_g": r.randint(0, 35)},
        answer="{food} has {calories} kcal and {protein_g} g of protein per portion.",
    ),
]
