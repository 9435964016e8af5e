"""The performance suite: every figure measured beside its floor in the same run."""
