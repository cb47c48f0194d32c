"""The Analyzer: photo -> garments (detect, crop, classify, colour, attributes, embed), its models and default weights."""
