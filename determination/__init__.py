"""Licence determination: walk the law's own decision path for one export, citing each step."""
