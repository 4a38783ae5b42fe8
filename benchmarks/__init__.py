"""`make bench`: speed figures, each beside a baseline measured in the same run."""
