"""Voice profiles: the stored enrollment (YAML + arrays), archives, atomic writes."""
