"""Where a study's records live: an Optuna journal file or database, with heartbeats on running trials."""
