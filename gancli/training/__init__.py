"""Training: the players and their optimizers (`gan`), the alternating loop (`loop`), the
metrics log and progress display (`monitor`)."""
