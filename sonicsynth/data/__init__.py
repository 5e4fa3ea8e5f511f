"""Corpus adapters -> manifest, the demo corpus, feature preparation and LightningDataModules."""
