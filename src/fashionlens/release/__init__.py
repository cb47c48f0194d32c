"""The shipped default models: their packaging and model card."""
