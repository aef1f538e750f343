"""DPO pairs mined from the SFT model's own replies: ``judge`` (prompts and verdicts), ``pairs`` (pairing and
balancing), both pure; ``stage`` runs them on a model's generations."""
