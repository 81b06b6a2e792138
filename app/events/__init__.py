"""Domain events (generation status, progress, results) and the bus that carries them."""
