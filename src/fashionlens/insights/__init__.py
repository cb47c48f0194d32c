"""What customers wear and what works: events summarised, trends, audiences, experiments."""
