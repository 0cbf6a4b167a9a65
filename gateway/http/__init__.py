"""Cross-cutting HTTP concerns, each a module with a `setup_<thing>(app)`."""
