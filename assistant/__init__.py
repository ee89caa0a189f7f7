"""Retrieval over the index and answers whose every citation is verified."""
