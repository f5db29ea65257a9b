"""The study: its sampler, pruner and stored space, what "done" means for it, and its queue of trials."""
