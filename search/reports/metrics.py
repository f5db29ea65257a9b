"""Names of the metrics a leaderboard can rank by (importable without TensorFlow)."""

METRIC_NAMES = ("val_accuracy", "test_accuracy", "val_loss", "test_loss", "params", "time")
