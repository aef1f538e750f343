"""Weather, travel and maps tools."""

from __future__ import annotations

from .toolspec import DATE_DESC, Param, ToolSpec, enum_prop, prop
from .vocab import CITIES, PLACES, DatePhrase, IntRange, Pairs, Pick

_CONDITIONS = ["sunny", "partly cloudy", "overcast", "light rain", "showers", "windy", "snow flurries"]
_AIRLINES = ["SkyBridge Air", "Northwind", "Aurora Airways", "BlueJet"]
_HOTELS = ["Grand Plaza", "Riverside Inn", "The Lantern", "Parkview Suites"]
_RAIL_CITIES = ["Paris", "London", "Berlin", "Madrid", "Rome", "Lisbon", "Vienna", "Prague", "Brussels", "Zurich"]
_SPOTS = ["Corner Bistro", "Green Leaf", "Main Street Pharmacy", "Riverside Park", "Maple Cafe", "Museum of Light"]

_CITY = Param("city", prop("string", "City name, e.g. Tokyo."), Pick(CITIES))
_UNITS = Pairs({"celsius": ["in Celsius", "in celsius"], "fahrenheit": ["in Fahrenheit", "in fahrenheit"]})

TOOLS = [
    ToolSpec(
        name="city_weather_forecast", domain="weather",
        description="Daily weather forecast for a city on a given date.",
        capability="check weather forecasts",
        params=(_CITY, Param("date", prop("string", DATE_DESC), DatePhrase()),
                Param("units", enum_prop(["celsius", "fahrenheit"], "Temperature units.", default="celsius"),
                      _UNITS, required=False)),
        questions=("What's the weather going to be like in {city} {date}[ {units}]?",
                   "I'm heading to {city} {date}. What's the forecast[ {units}]?",
                   "Will I need an umbrella in {city} {date}? Check the forecast[ {units}]."),
        clauses=("get the weather forecast for {city} {date}[ {units}]",
                 "check the forecast in {city} {date}[ {units}]"),
        result=lambda a, r: {"condition": r.choice(_CONDITIONS), "high": r.randint(5, 32), "low": r.randint(-5, 4),
                             "precip_chance": r.randrange(0, 100, 10)},
        answer="The forecast for {city} on {date}: {condition}, high {high}°, low {low}°, "
               "{precip_chance}% chance of rain.",
    ),
    ToolSpec(
        name="weather_air_quality", domain="weather",
        description="Current air-quality index (AQI) for a city.",
        capability="look up air quality",
        params=(_CITY, Param("include_pollutants", prop("boolean", "Include per-pollutant levels.", default=False),
                             Pairs({True: ["with a pollutant breakdown", "including pollutant levels"],
                                    False: ["without the pollutant details", "just the overall index"]}),
                             required=False)),
        questions=("How is the air quality in {city} right now[, {include_pollutants}]?",
                   "Is the air clean enough for a run in {city}? Show me the AQI[ {include_pollutants}]."),
        clauses=("check the air quality index in {city}[ {include_pollutants}]",),
        result=lambda a, r: {"aqi": (q := r.randint(10, 180)), "category": "good" if q < 50 else "moderate"
                             if q < 100 else "unhealthy"},
        answer="The air quality index in {city} is {aqi} ({category}).",
    ),
    ToolSpec(
        name="weather_rain_outlook", domain="weather",
        description="Hour-by-hour chance of rain for a city over the coming hours.",
        capability="give hourly rain outlooks",
        params=(_CITY, Param("hours", prop("integer", "How many hours ahead to cover (1-48)."), IntRange(2, 48))),
        questions=("Is it going to rain in {city} in the next {hours} hours?",
                   "Give me the hour-by-hour rain outlook for {city} over the next {hours} hours."),
        clauses=("get the rain outlook for {city} for the next {hours} hours",),
        result=lambda a, r: {"max_chance": r.randrange(0, 100, 5), "peak_hour": f"{r.randint(0, 23):02d}:00"},
        answer="In {city} the highest chance of rain over the next {hours} hours is {max_chance}%, "
               "around {peak_hour}.",
    ),
    ToolSpec(
        name="search_flight_options", domain="travel",
        description="Search one-way flights between two cities on a date.",
        capability="search for flights",
        params=(Param("origin", prop("string", "Departure city."), Pick(CITIES)),
                Param("destination", prop("string", "Arrival city."), Pick(CITIES)),
                Param("date", prop("string", DATE_DESC), DatePhrase()),
                Param("cabin", enum_prop(["economy", "premium_economy", "business", "first"], "Cabin class.",
                                         default="economy"),
                      Pairs({"economy": ["economy"], "premium_economy": ["premium economy"],
                             "business": ["business class"], "first": ["first class"]}), required=False),
                Param("nonstop_only", prop("boolean", "Only return nonstop flights.", default=False),
                      Pairs({True: ["nonstop only", "direct flights only"],
                             False: ["connections are fine", "stops are okay"]}), required=False)),
        questions=("Find me [{cabin} ]flights from {origin} to {destination} {date}[, {nonstop_only}].",
                   "I need to fly from {origin} to {destination} {date}[ in {cabin}][, {nonstop_only}]. "
                   "What are my options?"),
        clauses=("search [{cabin} ]flights from {origin} to {destination} {date}[ ({nonstop_only})]",),
        result=lambda a, r: {"count": r.randint(2, 14), "cheapest_price": r.randrange(89, 1400),
                             "airline": r.choice(_AIRLINES)},
        answer="I found {count} flights from {origin} to {destination} on {date}; the cheapest is "
               "{cheapest_price} USD with {airline}.",
        distinct=("origin", "destination"),
    ),
    ToolSpec(
        name="hotel_room_search", domain="travel",
        description="Find available hotel rooms in a city.",
        capability="search for hotels",
        params=(_CITY, Param("check_in", prop("string", "Check-in date, " + DATE_DESC), DatePhrase()),
                Param("nights", prop("integer", "Number of nights."), IntRange(2, 14)),
                Param("guests", prop("integer", "Number of guests.", default=2), IntRange(2, 6), required=False)),
        questions=("Find a hotel in {city} for {nights} nights, arriving {check_in}[, for {guests} guests].",
                   "I need a room in {city} for {nights} nights starting {check_in}[, {guests} guests]."),
        clauses=("look for a hotel in {city} for {nights} nights arriving {check_in}[ for {guests} guests]",),
        result=lambda a, r: {"hotel": r.choice(_HOTELS), "price_per_night": r.randrange(70, 420)},
        answer="The best match in {city} is {hotel} at {price_per_night} USD per night for {nights} nights "
               "from {check_in}.",
    ),
    ToolSpec(
        name="train_timetable_lookup", domain="travel",
        description="Train departures between two European cities on a date.",
        capability="look up train timetables",
        params=(Param("from_city", prop("string", "Departure city."), Pick(_RAIL_CITIES)),
                Param("to_city", prop("string", "Arrival city."), Pick(_RAIL_CITIES)),
                Param("date", prop("string", DATE_DESC), DatePhrase())),
        questions=("When are the trains from {from_city} to {to_city} {date}?",
                   "Is there a train from {from_city} to {to_city} {date}?"),
        clauses=("look up trains from {from_city} to {to_city} {date}",),
        result=lambda a, r: {"first_departure": f"{r.randint(5, 9):02d}:{r.choice([5, 20, 40]):02d}",
                             "duration_hours": r.randint(2, 11)},
        answer="The first train from {from_city} to {to_city} on {date} leaves at {first_departure} and takes "
               "about {duration_hours} hours.",
        distinct=("from_city", "to_city"),
    ),
    ToolSpec(
        name="car_rental_quote", domain="travel",
        description="Price quote for renting a car in a city.",
        capability="quote car rentals",
        params=(_CITY, Param("pickup_date", prop("string", "Pick-up date, " + DATE_DESC), DatePhrase()),
                Param("days", prop("integer", "Rental length in days."), IntRange(2, 21)),
                Param("car_class", enum_prop(["compact", "sedan", "suv", "van"], "Vehicle class."),
                      Pairs({"compact": ["a compact car"], "sedan": ["a sedan"], "suv": ["an SUV"],
                             "van": ["a van", "a minivan"]}))),
        questions=("How much would it cost to rent {car_class} in {city} for {days} days starting {pickup_date}?",
                   "I want {car_class} in {city} for {days} days, picking up {pickup_date}. What's the price?"),
        clauses=("get a quote for renting {car_class} in {city} for {days} days starting {pickup_date}",),
        result=lambda a, r: {"total_price": r.randrange(120, 1800), "company": r.choice(["Rentwise", "Zipcar+"])},
        answer="A {days}-day {car_class} rental in {city} would cost {total_price} USD with {company}.",
    ),
    ToolSpec(
        name="find_nearby_places", domain="maps",
        description="Find places of a given type in a city.",
        capability="find nearby places",
        params=(Param("place_type", enum_prop(["restaurant", "cafe", "pharmacy", "museum", "gas_station", "park"],
                                              "Kind of place."),
                      Pairs({"restaurant": ["restaurants"], "cafe": ["cafes", "coffee shops"],
                             "pharmacy": ["pharmacies"], "museum": ["museums"], "gas_station": ["gas stations"],
                             "park": ["parks"]})),
                _CITY,
                Param("radius_km", prop("number", "Search radius in kilometres.", default=2),
                      Pick([0.5, 1, 2, 5, 10]), required=False),
                Param("open_now", prop("boolean", "Only places open right now.", default=False),
                      Pairs({True: ["that are open now", "open right now"],
                             False: ["open or closed", "whether or not they are open"]}), required=False)),
        questions=("Find {place_type} in {city}[ within {radius_km} km][ {open_now}].",
                   "Are there any {place_type}[ {open_now}] in {city}[ within {radius_km} km]?"),
        clauses=("find {place_type} in {city}[ within {radius_km} km][ {open_now}]",),
        result=lambda a, r: {"count": r.randint(1, 25), "closest": r.choice(_SPOTS)},
        answer="I found {count} matching places in {city}; the closest is {closest}.",
    ),
    ToolSpec(
        name="route_travel_time", domain="maps",
        description="Estimated travel time between two landmarks.",
        capability="estimate travel times",
        params=(Param("origin", prop("string", "Starting landmark."), Pick(PLACES)),
                Param("destination", prop("string", "Destination landmark."), Pick(PLACES)),
                Param("mode", enum_prop(["driving", "walking", "cycling", "transit"], "Travel mode."),
                      Pairs({"driving": ["by car", "driving"], "walking": ["on foot", "walking"],
                             "cycling": ["by bike", "cycling"], "transit": ["by public transit", "by subway"]}))),
        questions=("How long does it take to get from the {origin} to the {destination} {mode}?",
                   "I'm at the {origin}. How long to reach the {destination} {mode}?"),
        clauses=("estimate the travel time from the {origin} to the {destination} {mode}",),
        result=lambda a, r: {"minutes": r.randint(4, 75), "distance_km": round(r.uniform(0.5, 18), 1)},
        answer="The {mode} route from the {origin} to the {destination} takes about {minutes} minutes "
               "({distance_km} km).",
        distinct=("origin", "destination"),
    ),
    ToolSpec(
        name="place_opening_hours", domain="maps",
        description="Opening hours of a named place, optionally on a specific date.",
        capability="look up opening hours",
        params=(Param("place_name", prop("string", "Name of the place."), Pick(PLACES)), _CITY,
                Param("date", prop("string", DATE_DESC + " Omit for today."), DatePhrase(), required=False)),
        questions=("When is the {place_name} in {city} open[ {date}]?",
                   "What are the opening hours of the {place_name} in {city}[ {date}]?"),
        clauses=("check the opening hours of the {place_name} in {city}[ {date}]",),
        result=lambda a, r: {"opens": f"{r.randint(7, 10):02d}:00", "closes": f"{r.randint(17, 22):02d}:00"},
        answer="The {place_name} in {city} is open from {opens} to {closes}.",
    ),
]
