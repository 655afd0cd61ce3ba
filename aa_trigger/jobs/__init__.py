"""Jobs: the orchestration behind the verbs (train, convert, emulate, benchmark)."""
