"""Tools that read runs and time programs: RESULTS.md and the benchmark; the core never imports them."""
