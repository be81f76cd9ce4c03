"""Orders: the order store, mappings and cleaning at work, intake from the platforms."""
