"""Small helpers shared across sonicsynth (atomic output, hashing, and the like)."""
