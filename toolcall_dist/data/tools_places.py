"""Extra travel and maps tools: multi-leg trips, nested guest details, coordinates, transit."""

from __future__ import annotations

from .structs import ListOf, ObjectOf, array_of, obj_prop
from .toolspec import DATE_DESC, Param, ToolSpec, array_prop, enum_prop, prop
from .vocab import CITIES, PEOPLE, DatePhrase, IntRange, Pairs, Pick, PickList

COUNTRIES = ["Japan", "France", "Brazil", "Canada", "India", "Kenya", "Mexico", "Norway", "Peru", "Vietnam",
             "Egypt", "Australia"]
_ADDRESSES = ["221 Baker Street, London", "5 Rue de Rivoli, Paris", "1600 Amphitheatre Parkway, Mountain View",
              "10 Downing Street, London", "350 Fifth Avenue, New York", "1 Harbour Street, Sydney"]
_LANDMARKS = {"Eiffel Tower": (48.8584, 2.2945), "Colosseum": (41.8902, 12.4922), "Big Ben": (51.5007, -0.1246),
              "Sydney Opera House": (-33.8568, 151.2153), "Statue of Liberty": (40.6892, -74.0445),
              "Tokyo Tower": (35.6586, 139.7454)}
_STOPS = ["Central Station", "Market Square", "Harbor Terminal", "University Gate", "Airport Link", "Old Town"]
_HOTELS = ["Grand Plaza", "Riverside Inn", "The Lantern", "Parkview Suites", "Harbor Lights Hotel"]
_EMAILS = ["dana@example.com", "liam.k@example.org", "hana@mail.example", "ivan.p@example.net"]


class _Landmark:
    """A point given by a landmark's name; the call carries its coordinates."""

    def __call__(self, rng, ref):
        name = rng.choice(list(_LANDMARKS))
        lat, lon = _LANDMARKS[name]
        return {"lat": lat, "lon": lon}, f"the {name}"

    def surfaces(self, value, ref):
        """Wordings that map to ``value``."""
        return [f"the {n}" for n, (lat, lon) in _LANDMARKS.items() if {"lat": lat, "lon": lon} == value]


_POINT = obj_prop("A point on the map.", {"lat": prop("number", "Latitude."), "lon": prop("number", "Longitude.")})

TOOLS = [
    ToolSpec(
        name="plan_multi_city_trip", domain="travel",
        description="Plan a trip through several cities, with nights in each, from a start date.",
        capability="plan multi-city trips",
        params=(Param("legs", array_of(obj_prop("One stop.", {"city": prop("string", "City name."),
                                                              "nights": prop("integer", "Nights there.")}),
                                       "Stops in travel order."),
                      ListOf(ObjectOf({"nights": IntRange(2, 5), "city": Pick(CITIES)}, "{nights} nights in {city}"),
                             2, 3, distinct="city")),
                Param("start_date", prop("string", "First day, " + DATE_DESC), DatePhrase())),
        questions=("Plan a trip with {legs}, starting {start_date}.",
                   "I want to spend {legs}. We leave {start_date}; plan it."),
        clauses=("plan a trip of {legs} starting {start_date}",),
        result=lambda a, r: {"total_nights": sum(leg["nights"] for leg in a["legs"]),
                             "estimated_cost": r.randrange(600, 6000, 50)},
        answer="Your {total_nights}-night trip from {start_date} would cost about {estimated_cost} USD.",
    ),
    ToolSpec(
        name="visa_requirement_check", domain="travel",
        description="Whether a passport holder needs a visa for a destination country.",
        capability="check visa rules",
        params=(Param("passport_country", prop("string", "Country that issued the passport."), Pick(COUNTRIES)),
                Param("destination_country", prop("string", "Country to visit."), Pick(COUNTRIES))),
        questions=("Do I need a visa for {destination_country} with a passport from {passport_country}?",
                   "I hold a {passport_country} passport. What are the visa rules for {destination_country}?"),
        clauses=("check if a {passport_country} passport needs a visa for {destination_country}",),
        result=lambda a, r: {"visa_required": r.choice(["yes", "no", "on arrival"]), "max_stay_days": r.choice(
            [30, 60, 90])},
        answer="Visa required: {visa_required}; maximum stay {max_stay_days} days.",
        distinct=("passport_country", "destination_country"),
    ),
    ToolSpec(
        name="travel_insurance_quote", domain="travel",
        description="Price of travel insurance for a group of travellers.",
        capability="quote travel insurance",
        params=(Param("destination", prop("string", "Destination country."), Pick(COUNTRIES)),
                Param("trip_days", prop("integer", "Trip length in days."), IntRange(3, 30)),
                Param("traveler_ages", array_prop("integer", "Age of each traveller."), PickList(
                    [4, 9, 15, 28, 34, 41, 57, 66, 72], 1, 3)),
                Param("coverage", enum_prop(["basic", "standard", "premium"], "Coverage level.", default="standard"),
                      Pairs({"basic": ["basic cover"], "standard": ["standard cover"], "premium": ["premium cover",
                                                                                                    "full cover"]}),
                      required=False)),
        questions=("Quote travel insurance for {trip_days} days in {destination}, travellers aged {traveler_ages}"
                   "[, {coverage}].",
                   "How much is[ {coverage}] insurance for a {trip_days}-day trip to {destination} for people aged "
                   "{traveler_ages}?"),
        clauses=("quote[ {coverage}] travel insurance for {trip_days} days in {destination} for ages "
                 "{traveler_ages}",),
        result=lambda a, r: {"premium_usd": r.randrange(40, 600)},
        answer="The policy would cost {premium_usd} USD.",
    ),
    ToolSpec(
        name="reserve_hotel_booking", domain="travel",
        description="Reserve a named hotel for a guest.",
        capability="reserve hotels",
        params=(Param("hotel", prop("string", "Hotel name."), Pick(_HOTELS)),
                Param("check_in", prop("string", "Check-in date, " + DATE_DESC), DatePhrase()),
                Param("nights", prop("integer", "Number of nights."), IntRange(1, 10)),
                Param("guest", obj_prop("Lead guest.", {
                    "name": prop("string", "Guest name."),
                    "contact": obj_prop("How to reach the guest.", {"email": prop("string", "Email address.")})}),
                      ObjectOf({"name": Pick(PEOPLE), "contact": ObjectOf({"email": Pick(_EMAILS)}, "{email}")},
                               "{name} ({contact})"))),
        questions=("Book the {hotel} for {nights} nights from {check_in} for {guest}.",
                   "Reserve {nights} nights at the {hotel}, checking in {check_in}, under {guest}."),
        clauses=("reserve the {hotel} for {nights} nights from {check_in} for {guest}",),
        result=lambda a, r: {"confirmation": f"HB-{r.randint(10000, 99999)}"},
        answer="Booked the {hotel} for {nights} nights from {check_in}; confirmation {confirmation}.",
    ),
    ToolSpec(
        name="geocode_street_address", domain="maps",
        description="Latitude and longitude of a street address.",
        capability="geocode addresses",
        params=(Param("address", prop("string", "Full street address."), Pick(_ADDRESSES)),),
        questions=("What are the coordinates of {address}?", "Geocode {address} for me."),
        clauses=("geocode {address}",),
        result=lambda a, r: {"lat": round(r.uniform(-40, 60), 4), "lon": round(r.uniform(-120, 150), 4)},
        answer="{address} is at {lat}, {lon}.",
    ),
    ToolSpec(
        name="distance_between_points", domain="maps",
        description="Straight-line distance between two points given as coordinates.",
        capability="measure distances",
        params=(Param("point_a", _POINT, _Landmark()), Param("point_b", _POINT, _Landmark()),
                Param("unit", enum_prop(["km", "mi"], "Unit of the distance.", default="km"),
                      Pairs({"km": ["in kilometres", "in km"], "mi": ["in miles"]}), required=False)),
        questions=("How far is {point_a} from {point_b} as the crow flies[, {unit}]?",
                   "Straight-line distance between {point_a} and {point_b}[ {unit}]?"),
        clauses=("measure the distance from {point_a} to {point_b}[ {unit}]",),
        result=lambda a, r: {"distance": round(r.uniform(100, 16000), 1)},
        answer="The straight-line distance is {distance}.",
        distinct=("point_a", "point_b"),
    ),
    ToolSpec(
        name="transit_departures_board", domain="maps",
        description="Next public-transport departures from a stop.",
        capability="show transit departures",
        params=(Param("stop_name", prop("string", "Stop or station name."), Pick(_STOPS)),
                Param("lines", array_prop("string", "Only these lines."), PickList(["1", "4", "12", "N8", "S3"], 1, 2),
                      required=False),
                Param("limit", prop("integer", "How many departures.", default=5), Pick([3, 5, 8, 10]),
                      required=False)),
        questions=("When are the next departures from {stop_name}[ on lines {lines}]?[ Show {limit}.]",
                   "Show me[ the next {limit}] departures at {stop_name}[ for lines {lines}]."),
        clauses=("show[ the next {limit}] departures from {stop_name}[ on lines {lines}]",),
        result=lambda a, r: {"next_line": r.choice(["1", "4", "12", "N8", "S3"]), "minutes": r.randint(1, 15)},
        answer="The next departure from {stop_name} is line {next_line} in {minutes} minutes.",
    ),
    ToolSpec(
        name="traffic_incident_report", domain="maps",
        description="Current traffic incidents in a city.",
        capability="report traffic incidents",
        params=(Param("city", prop("string", "City name."), Pick(CITIES)),
                Param("min_severity", enum_prop(["minor", "moderate", "major"], "Lowest severity to list.",
                                                default="minor"),
                      Pairs({"minor": ["all incidents"], "moderate": ["moderate or worse"],
                             "major": ["only major ones"]}), required=False)),
        questions=("Any traffic problems in {city} right now[ ({min_severity})]?",
                   "Show traffic incidents in {city}[, {min_severity}]."),
        clauses=("list traffic incidents in {city}[ ({min_severity})]",),
        result=lambda a, r: {"incidents": r.randint(0, 12)},
        answer="There are {incidents} incidents in {city}.",
    ),
]
