"""Per-utterance features for the feature cache: each extractor is a small class injected by config."""
