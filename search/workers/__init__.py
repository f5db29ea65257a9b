"""Workers: processes that run a study's queued trials, on this host's GPUs/CPUs or on other hosts.

Nothing is imported here: :mod:`.devices` must be importable before Keras is,
so that a process can choose its device before its backend starts.
"""
