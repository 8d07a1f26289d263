"""Shared test configuration: hypothesis runs derandomized, so that every run of the
suite draws the same examples (a test either always passes or always fails)."""

from hypothesis import settings

settings.register_profile("relu1d", derandomize=True, deadline=None, print_blob=True)
settings.load_profile("relu1d")
