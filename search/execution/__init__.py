"""Running a study's trials, and the fault tolerance around them: the worker loop, recovery, its settings."""
