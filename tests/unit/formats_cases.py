"""Conversations shared by the format tests, and a reader for the text an assistant mask covers."""

TOOLS = [{"name": "weather_forecast", "description": "Forecast",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]
SYSTEM = {"role": "system", "content": "You are a helpful assistant."}
USER = {"role": "user", "content": "Weather in Tokyo?"}


def call(city: str) -> dict:
    return {"type": "function", "function": {"name": "weather_forecast", "arguments": {"city": city}}}


CALL = {"role": "assistant", "content": "", "tool_calls": [call("Tokyo")]}
PARALLEL = {"role": "assistant", "content": "", "tool_calls": [call("Tokyo"), call("Paris")]}
RESULT = {"role": "tool", "name": "weather_forecast", "content": '{"temp_c": 12}'}
RESULT2 = {"role": "tool", "name": "weather_forecast", "content": '{"temp_c": 15}'}
ANSWER = {"role": "assistant", "content": "It is 12 C."}
CONV = [SYSTEM, USER, CALL, RESULT, ANSWER]
CONV_PARALLEL = [SYSTEM, USER, PARALLEL, RESULT, RESULT2, {"role": "assistant", "content": "12 C and 15 C."}]
NO_TOOL = [SYSTEM, {"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello!"}]


def masked_segments(tokenizer, example: dict, text: str) -> list[str]:
    """The text under each run of consecutive masked tokens of ``example`` (tokenized from ``text``)."""
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    assert enc["input_ids"] == example["input_ids"]
    segments, run = [], None
    for (start, end), m in zip(enc["offset_mapping"], example["assistant_masks"], strict=True):
        if m:
            run = (run[0] if run else start, end)
        elif run:
            segments.append(text[run[0]: run[1]])
            run = None
    if run:
        segments.append(text[run[0]: run[1]])
    return segments
