"""Training: the engine (fit, evaluate), distributed runs, and one recipe per task."""
