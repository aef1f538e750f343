"""Fixed wordings: request wrappers, chit-chat, general knowledge, out-of-library requests, refusals, hedges."""

from __future__ import annotations

import random

# A clause "get the forecast for Paris tomorrow" becomes a full request through one of these.
WRAPPERS = ("Please {x}.", "Could you {x}?", "Can you {x}?", "I'd like you to {x}.", "{X}.", "Hey, {x}, please.")
MULTI_WRAPPERS = ("Please {x}.", "Could you {x}?", "I need you to {x}.", "{X}.", "Can you help me {x}?")

CHITCHAT: list[tuple[tuple[str, ...], tuple[str, ...]]] = [
    (("hi", "hello", "hey there", "hi!", "good morning"),
     ("Hello! How can I help you today?", "Hi there! What can I do for you?")),
    (("thanks!", "thank you", "thanks a lot", "thank you so much", "cheers, that helps"),
     ("You're welcome!", "Happy to help! Let me know if you need anything else.")),
    (("how are you?", "how's it going?", "are you doing well today?"),
     ("I'm doing well, thanks for asking! How can I help?", "All good here. What can I do for you?")),
    (("bye", "goodbye!", "see you later", "that's all for now"),
     ("Goodbye! Have a great day.", "See you! Reach out anytime.")),
    (("who are you?", "what are you?", "what kinds of things can you help with?"),
     ("I'm a helpful assistant. I can answer questions and use the tools available to me when a request "
      "needs them.",)),
    (("ok", "great", "cool, got it", "perfect"), ("Glad that works! Anything else?", "Great!")),
]

KNOWLEDGE: list[tuple[str, str]] = [
    ("What is the capital of Canada?", "The capital of Canada is Ottawa."),
    ("What is the capital of Japan?", "The capital of Japan is Tokyo."),
    ("Who wrote Romeo and Juliet?", "Romeo and Juliet was written by William Shakespeare."),
    ("How many continents are there?", "There are seven continents."),
    ("What is the chemical symbol for gold?", "The chemical symbol for gold is Au."),
    ("What planet is known as the Red Planet?", "Mars is known as the Red Planet."),
    ("What is the largest ocean on Earth?", "The Pacific Ocean is the largest ocean on Earth."),
    ("Who painted the Mona Lisa?", "The Mona Lisa was painted by Leonardo da Vinci."),
    ("What gas do plants absorb from the air?", "Plants absorb carbon dioxide from the air."),
    ("How many legs does a spider have?", "A spider has eight legs."),
    ("What does DNA stand for?", "DNA stands for deoxyribonucleic acid."),
    ("What language is spoken in Brazil?", "The official language of Brazil is Portuguese."),
    ("What is the boiling point of water at sea level in Celsius?",
     "Water boils at 100 degrees Celsius at sea level."),
    ("Which is the longest river in Africa?", "The Nile is the longest river in Africa."),
    ("What is photosynthesis?", "Photosynthesis is how plants turn light, water and carbon dioxide into sugar and "
                                "oxygen."),
    ("Who was the first person to walk on the Moon?", "Neil Armstrong was the first person to walk on the Moon, "
                                                      "in 1969."),
    ("What is the smallest prime number?", "The smallest prime number is 2."),
    ("Why is the sky blue?", "Sunlight scatters off air molecules, and blue light scatters the most, so the sky "
                             "looks blue."),
    ("What is the tallest mountain in the world?", "Mount Everest is the tallest mountain above sea level."),
    ("What is a haiku?", "A haiku is a short Japanese poem with three lines of five, seven and five syllables."),
    ("How many days are in a leap year?", "A leap year has 366 days."),
    ("What is the freezing point of water in Fahrenheit?", "Water freezes at 32 degrees Fahrenheit."),
    ("Which animal is the largest mammal?", "The blue whale is the largest mammal."),
    ("What is the main ingredient of guacamole?", "The main ingredient of guacamole is avocado."),
    ("Tell me a fun fact about octopuses.", "Octopuses have three hearts and blue blood."),
    ("What does CPU stand for?", "CPU stands for central processing unit."),
]

# Requests no tool in the library can serve, with the capability they need.
OUT_OF_LIBRARY: list[tuple[str, str]] = [
    ("Play some jazz in the living room.", "play music"),
    ("Turn off the kitchen lights.", "control smart-home devices"),
    ("Order me a large pepperoni pizza.", "order food delivery"),
    ("Call a taxi to my place.", "book rides"),
    ("Translate 'good night' into German.", "translate text"),
    ("Set the thermostat to 21 degrees.", "control smart-home devices"),
    ("Book me a table for two at an Italian restaurant tonight.", "make restaurant reservations"),
    ("Show me my bank account balance.", "access bank accounts"),
    ("Lock the front door.", "control smart-home devices"),
    ("Start a 10 minute timer.", "run timers"),
    ("Open the garage door.", "control smart-home devices"),
    ("Record a voice memo for me.", "record audio"),
]

REFUSALS = ("I'm sorry, but none of the tools I have can {cap}, so I can't help with that here.",
            "None of the available tools can {cap}, so I can't do that for you.",
            "I can't help with that: the tools I have access to don't let me {cap}.")

HEDGES = ("I'm not able to {cap} right now. Would you like me to help with something else?",
          "I don't have access to live data, so I can't {cap}. You might try a dedicated app or website.",
          "Would you like me to {cap} for you? Just let me know and I'll see what I can do.",
          "I'm not able to check that. Would you like some general advice instead?")


def wrap(rng: random.Random, clause: str, multi: bool = False) -> str:
    """Turn an imperative clause into a full user request."""
    template = rng.choice(MULTI_WRAPPERS if multi else WRAPPERS)
    return template.format(x=clause, X=clause[:1].upper() + clause[1:])


def join_clauses(rng: random.Random, clauses: list[str]) -> str:
    """Join 2+ clauses into one request, in order."""
    if len(clauses) == 2 and rng.random() < 0.5:
        a, b = clauses
        body = rng.choice(["{a}, and also {b}", "{a} and {b}", "{a}, then {b}"]).format(a=a, b=b)
    else:
        body = ", ".join(clauses[:-1]) + ", and " + clauses[-1]
    return wrap(rng, body, multi=True)
