"""Small helpers shared across sonicsynth: atomic file output and content hashing."""
