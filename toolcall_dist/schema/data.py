"""The ``data`` group: the synthetic builder's size, class ratios, call shapes, no-tool kinds and public sources."""

from __future__ import annotations

from dataclasses import dataclass, field

from toolcall_dist.schema.checks import check, check_weights

SOURCE_FORMATS = ("glaive", "xlam", "hermes", "bfcl")  # toolcall_dist.data.loaders.FORMATS


@dataclass
class RatiosConfig:
    good: float = 0.6
    bad: float = 0.25
    no_tool: float = 0.15

    def __post_init__(self) -> None:
        check_weights(self, "data.ratios")


@dataclass
class ShapesConfig:
    """Weights of the good-call shapes BFCL grades (normalised; at least one positive)."""

    simple: float = 0.35
    multiple: float = 0.3
    parallel: float = 0.15
    parallel_multiple: float = 0.2
    # two calls across user turns, the second using a value of the first's result (plus ignored_result DPO pairs)
    multi_step: float = 0.0

    def __post_init__(self) -> None:
        check_weights(self, "data.shapes")


@dataclass
class NoToolKindsConfig:
    """Weights of the no-tool negative kinds (normalised; at least one positive)."""

    chitchat: float = 0.15  # greetings, thanks, small talk
    knowledge: float = 0.15  # general-knowledge questions
    arithmetic: float = 0.15  # sums a model does itself
    irrelevant: float = 0.4  # a capability no offered tool provides
    followup: float = 0.15  # answered from a tool result already in the conversation
    computation: float = 0.0  # a computation none of the offered tools does (a triangle's area beside a BMI tool)

    def __post_init__(self) -> None:
        check_weights(self, "data.no_tool_kinds")


@dataclass
class SourceConfig:
    """A public dataset mixed into training (or, for bfcl, into the evaluation split)."""

    format: str = "glaive"  # glaive | xlam | hermes | bfcl (evaluation only)
    path: str | None = None  # local .json / .jsonl / .parquet file
    hub: str | None = None  # hub dataset name, used where no local file is given and a hub is reachable
    split: str = "train"
    weight: float = 0.0  # share of each class's training count taken from this source (0 for bfcl)
    limit: int | None = None  # read at most this many rows

    def __post_init__(self) -> None:
        check(self.format in SOURCE_FORMATS, "data.sources.format",
              f"unknown format {self.format!r}; known: {SOURCE_FORMATS}")
        check(bool(self.path or self.hub), "data.sources.path", "set a local path or a hub name")
        check(0 <= self.weight <= 1, "data.sources.weight", f"must be in [0, 1], got {self.weight}")
        check(self.format != "bfcl" or self.weight == 0, "data.sources.weight",
              "bfcl sources are evaluation only; their weight must be 0")
        check(self.limit is None or self.limit > 0, "data.sources.limit", f"must be > 0, got {self.limit}")


@dataclass
class DataConfig:
    n_examples: int = 2000  # training records of the three classes (the "when" pairs come on top)
    eval_examples: int = 200  # evaluation records, on held-out tools, by the same ratios
    ratios: RatiosConfig = field(default_factory=RatiosConfig)
    shapes: ShapesConfig = field(default_factory=ShapesConfig)
    no_tool_kinds: NoToolKindsConfig = field(default_factory=NoToolKindsConfig)
    # Restrict the tool library to these domains (null: all). The CPU quickstart uses a few so a tiny model learns.
    domains: list[str] | None = None
    python_types: float = 0.0  # share of training records whose tools use BFCL's Python type names ("dict", "float")
    # share of call records offered as BFCL offers Java / JavaScript functions, values written as source text
    java_js: float = 0.0
    # share of SFT records whose tools get long descriptions and 2-6 extra optional parameters the calls leave unset
    verbose_tools: float = 0.0
    heldout_tool_fraction: float = 0.2  # tools of each domain kept out of training, for the eval split and held-out
    sources: list[SourceConfig] = field(default_factory=list)
    reference_date: str = "2026-11-24"
    seed: int = 0
    holdout_seed: int = 1_000_003  # held-out eval set: a different seed, deduplicated against training prompts
    holdout_per_category: int = 40
    leakage_check: bool = True  # quarantine records that repeat a BFCL question or (nearly) share a function name
    bfcl_data_dir: str | None = None  # BFCL files for the leakage check (null: the installed bfcl-eval package)
    stats_tokenizer: str | None = None  # tokenizer.json (or a dir holding one) for length stats; null: word pieces

    def __post_init__(self) -> None:
        check(self.n_examples > 0, "data.n_examples", f"must be > 0, got {self.n_examples}")
        check(self.eval_examples >= 0, "data.eval_examples", f"must be >= 0, got {self.eval_examples}")
        check(self.holdout_seed != self.seed, "data.holdout_seed", "must differ from data.seed")
        check(self.holdout_per_category >= 0, "data.holdout_per_category",
              f"must be >= 0, got {self.holdout_per_category}")
        check(0 <= self.python_types <= 1, "data.python_types", f"must be in [0, 1], got {self.python_types}")
        check(0 <= self.java_js <= 1, "data.java_js", f"must be in [0, 1], got {self.java_js}")
        check(0 <= self.verbose_tools <= 1, "data.verbose_tools", f"must be in [0, 1], got {self.verbose_tools}")
        check(0 <= self.heldout_tool_fraction < 1, "data.heldout_tool_fraction",
              f"must be in [0, 1), got {self.heldout_tool_fraction}")
        total = sum(s.weight for s in self.sources)
        check(total <= 1, "data.sources", f"weights sum to {total}; at most 1 (the rest is synthetic)")
