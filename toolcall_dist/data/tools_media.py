"""Media (films, books, podcasts, TV, concerts) and extra sports and math tools."""

from __future__ import annotations

import math

from .structs import Matrix, array_of
from .toolspec import DATE_DESC, Param, ToolSpec, array_prop, enum_prop, prop
from .vocab import CITIES, PLAYERS, TEAMS, DatePhrase, IntRange, Pairs, Pick, PickList

MOVIES = ["The Silent Harbor", "Midnight Circuit", "Paper Lanterns", "Northern Lights", "The Long Orbit",
          "Glass Garden", "Echoes of Summer"]
AUTHORS = ["Ursula Vance", "Kenji Morita", "Amara Okoye", "Lars Holm", "Sofia Reyes"]
ARTISTS = ["The Velvet Owls", "Nova Lane", "Kai Rivers", "Orchestra Borealis", "Luna Park Trio"]
_TOPICS = ["space exploration", "personal finance", "ancient history", "machine learning", "cooking"]
_TOURNAMENTS = {"world_cup": ["World Cup"], "champions_league": ["Champions League"], "wimbledon": ["Wimbledon"],
                "nba_playoffs": ["NBA playoffs"]}


def _det(m: list) -> float:
    if len(m) == 1:
        return m[0][0]
    return sum((-1) ** j * m[0][j] * _det([row[:j] + row[j + 1:] for row in m[1:]]) for j in range(len(m)))


def _factors(n: int) -> list[int]:
    out, d = [], 2
    while d * d <= n:
        while n % d == 0:
            out.append(d)
            n //= d
        d += 1
    return out + ([n] if n > 1 else [])


TOOLS = [
    ToolSpec(
        name="movie_showtimes_lookup", domain="media",
        description="Cinema showtimes for a film in a city on a date.",
        capability="look up film showtimes",
        params=(Param("movie", prop("string", "Film title."), Pick(MOVIES)),
                Param("city", prop("string", "City name."), Pick(CITIES)),
                Param("date", prop("string", DATE_DESC), DatePhrase())),
        questions=('When is "{movie}" showing in {city} {date}?', 'Showtimes for "{movie}" in {city} {date}, please.'),
        clauses=('get the showtimes of "{movie}" in {city} {date}',),
        result=lambda a, r: {"first_show": f"{r.randint(12, 22)}:{r.choice(['00', '15', '30', '45'])}",
                             "cinemas": r.randint(1, 6)},
        answer='"{movie}" plays at {cinemas} cinemas in {city} on {date}; the first show is at {first_show}.',
    ),
    ToolSpec(
        name="book_catalog_search", domain="media",
        description="Search a book catalogue by author, genre and year.",
        capability="search book catalogues",
        params=(Param("author", prop("string", "Author full name."), Pick(AUTHORS)),
                Param("genre", enum_prop(["fiction", "mystery", "science_fiction", "biography"], "Genre."),
                      Pairs({"fiction": ["novels"], "mystery": ["mysteries"], "science_fiction": ["sci-fi books"],
                             "biography": ["biographies"]}), required=False),
                Param("published_after", prop("integer", "Earliest publication year."),
                      Pick([1990, 2000, 2010, 2015, 2020]), required=False)),
        questions=("Find books by {author}[ published after {published_after}].",
                   "What[ {genre}] has {author} written[ since {published_after}]?"),
        clauses=("look up books by {author}[ published after {published_after}]",),
        result=lambda a, r: {"count": r.randint(1, 15), "latest": r.choice(["Salt and Iron", "The Quiet Map"])},
        answer="{author} has {count} matching books; the latest is {latest}.",
    ),
    ToolSpec(
        name="podcast_episode_finder", domain="media",
        description="Find podcast episodes on a topic, up to a length.",
        capability="find podcast episodes",
        params=(Param("topic", prop("string", "Topic."), Pick(_TOPICS)),
                Param("max_minutes", prop("integer", "Longest episode.", default=60), Pick([20, 30, 45, 60, 90]),
                      required=False)),
        questions=("Find podcast episodes about {topic}[ under {max_minutes} minutes].",
                   "Any good podcasts on {topic}?[ Keep it under {max_minutes} minutes.]"),
        clauses=("find podcasts about {topic}[ shorter than {max_minutes} minutes]",),
        result=lambda a, r: {"episode": r.choice(["Deep Dive #42", "The Long View", "Quick Takes 7"]),
                             "minutes": r.randint(12, 60)},
        answer='Try "{episode}" ({minutes} minutes).',
    ),
    ToolSpec(
        name="create_watchlist", domain="media",
        description="Create a named watchlist of films.",
        capability="manage watchlists",
        params=(Param("name", prop("string", "Watchlist name."), Pick(["Weekend", "Family night", "Classics",
                                                                       "To watch"])),
                Param("titles", array_prop("string", "Film titles."), PickList(MOVIES, 2, 3))),
        questions=('Make a watchlist called "{name}" with {titles}.', 'Create my "{name}" list: {titles}.'),
        clauses=('create a watchlist "{name}" with {titles}',),
        result=lambda a, r: {"list_id": f"wl_{r.randint(100, 999)}", "size": len(a["titles"])},
        answer='Created "{name}" with {size} films.',
    ),
    ToolSpec(
        name="tv_schedule_lookup", domain="media",
        description="TV listings for a channel on a date.",
        capability="show TV listings",
        params=(Param("channel", enum_prop(["news_one", "sports_plus", "kids_fun", "cinema_max"], "Channel."),
                      Pairs({"news_one": ["News One"], "sports_plus": ["Sports Plus"], "kids_fun": ["Kids Fun"],
                             "cinema_max": ["Cinema Max"]})),
                Param("date", prop("string", DATE_DESC), DatePhrase())),
        questions=("What's on {channel} {date}?", "Show me the {channel} schedule {date}."),
        clauses=("get the {channel} listings {date}",),
        result=lambda a, r: {"prime_time": r.choice(MOVIES)},
        answer="At prime time on {date} it shows {prime_time}.",
    ),
    ToolSpec(
        name="concert_ticket_search", domain="media",
        description="Concert tickets for an artist in a city.",
        capability="search concert tickets",
        params=(Param("artist", prop("string", "Artist or band."), Pick(ARTISTS)),
                Param("city", prop("string", "City name."), Pick(CITIES)),
                Param("max_price", prop("number", "Highest ticket price in USD."), Pick([40, 60, 85, 120, 200]),
                      required=False)),
        questions=("Are there tickets for {artist} in {city}[ under {max_price} dollars]?",
                   "Find {artist} concert tickets in {city}[ for at most {max_price} dollars]."),
        clauses=("find tickets for {artist} in {city}[ under {max_price} dollars]",),
        result=lambda a, r: {"date": f"2027-0{r.randint(1, 9)}-1{r.randint(0, 9)}", "price": r.randrange(35, 220)},
        answer="{artist} play {city} on {date}; tickets from {price} USD.",
    ),
    ToolSpec(
        name="live_match_score", domain="sports",
        description="Live score of a team's current match.",
        capability="show live scores",
        params=(Param("team", prop("string", "Team name."), Pick(TEAMS)),),
        questions=("What's the score in the {team} game?", "How are {team} doing right now?"),
        clauses=("get the live score of the {team} game",),
        result=lambda a, r: {"score": f"{r.randint(0, 4)}-{r.randint(0, 4)}", "minute": r.randint(1, 90)},
        answer="{team}: {score} after {minute} minutes.",
    ),
    ToolSpec(
        name="tournament_bracket_lookup", domain="sports",
        description="Fixtures of one round of a tournament.",
        capability="show tournament brackets",
        params=(Param("tournament", enum_prop(list(_TOURNAMENTS), "Tournament."), Pairs(_TOURNAMENTS)),
                Param("round", enum_prop(["group", "quarterfinal", "semifinal", "final"], "Round."),
                      Pairs({"group": ["group stage"], "quarterfinal": ["quarter-finals"],
                             "semifinal": ["semi-finals"], "final": ["final"]}))),
        questions=("Who plays in the {round} of the {tournament}?", "Show the {tournament} {round} bracket."),
        clauses=("show the {tournament} {round} fixtures",),
        result=lambda a, r: {"matches": r.randint(1, 8)},
        answer="The {round} has {matches} matches.",
    ),
    ToolSpec(
        name="compare_player_stats", domain="sports",
        description="Side-by-side season statistics for several players.",
        capability="compare players",
        params=(Param("players", array_prop("string", "Player full names."), PickList(PLAYERS, 2, 3)),
                Param("season", prop("integer", "Season start year."), Pick([2022, 2023, 2024, 2025])),
                Param("metrics", array_of(enum_prop(["goals", "assists", "minutes"], "A statistic."),
                                          "Statistics to compare.", default=["goals"]),
                      PickList(["goals", "assists", "minutes"], 1, 2), required=False)),
        questions=("Compare {players} in the {season} season[ on {metrics}].",
                   "Who did better in {season}, {players}?[ Look at {metrics}.]"),
        clauses=("compare {players} for the {season} season[ on {metrics}]",),
        result=lambda a, r: {"leader": r.choice(a["players"])},
        answer="{leader} had the best {season} season of the group.",
    ),
    ToolSpec(
        name="matrix_determinant_calc", domain="math",
        description="Determinant of a square matrix given as a list of rows.",
        capability="compute determinants",
        params=(Param("matrix", array_of(array_prop("number", "One row."), "Rows of the matrix."), Matrix()),),
        questions=("What's the determinant of {matrix}?", "Compute det({matrix})."),
        clauses=("compute the determinant of {matrix}",),
        result=lambda a, r: {"determinant": _det(a["matrix"])},
        answer="The determinant is {determinant}.",
    ),
    ToolSpec(
        name="prime_factorization", domain="math",
        description="Prime factors of a positive integer.",
        capability="factor integers",
        params=(Param("n", prop("integer", "Integer greater than 1."), IntRange(12, 5000)),),
        questions=("What are the prime factors of {n}?", "Factorise {n} into primes."),
        clauses=("factor {n} into primes",),
        result=lambda a, r: {"factors": " x ".join(str(f) for f in _factors(a["n"]))},
        answer="{n} = {factors}.",
    ),
    ToolSpec(
        name="heron_triangle_area", domain="math",
        description="Area of a triangle from its three side lengths (Heron's formula).",
        capability="compute triangle areas",
        params=(Param("side_a", prop("number", "First side."), Pick([3, 5, 7, 9])),
                Param("side_b", prop("number", "Second side."), Pick([4, 6, 8, 10])),
                Param("side_c", prop("number", "Third side."), Pick([5, 7, 9, 11]))),
        questions=("What's the area of a triangle with sides {side_a}, {side_b} and {side_c}?",
                   "Use Heron's formula for sides {side_a}, {side_b}, {side_c}."),
        clauses=("find the area of the triangle with sides {side_a}, {side_b} and {side_c}",),
        result=lambda a, r: {"area": round(math.sqrt(max(0.0, (s := (a["side_a"] + a["side_b"] + a["side_c"]) / 2)
                                                         * (s - a["side_a"]) * (s - a["side_b"])
                                                         * (s - a["side_c"]))), 3)},
        answer="The area is {area}.",
    ),
    ToolSpec(
        name="definite_integral_estimate", domain="math",
        description="Numerical value of a definite integral of a function of x.",
        capability="integrate functions",
        params=(Param("expression", prop("string", "Function of x, e.g. x^2."), Pick(["x^2", "sin(x)", "exp(x)",
                                                                                      "3*x + 1", "1/(1+x^2)"])),
                Param("lower", prop("number", "Lower bound."), Pick([0, 1, -1, 2])),
                Param("upper", prop("number", "Upper bound."), Pick([3, 4, 5, 10])),
                Param("method", enum_prop(["simpson", "trapezoid"], "Rule.", default="simpson"),
                      Pairs({"simpson": ["with Simpson's rule"], "trapezoid": ["with the trapezoid rule"]}),
                      required=False)),
        questions=("Integrate {expression} from {lower} to {upper}[ {method}].",
                   "What's the integral of {expression} between {lower} and {upper}[, {method}]?"),
        clauses=("integrate {expression} from {lower} to {upper}[ {method}]",),
        result=lambda a, r: {"value": round(r.uniform(-5, 200), 4)},
        answer="The integral is about {value}.",
    ),
]
