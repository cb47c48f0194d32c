"""Models: plain builders over torchvision and the inference helpers that need only a checkpoint."""

from fashionlens.models.classifier import build_classifier, classifier_from_checkpoint, predict_classifier

__all__ = ["build_classifier", "classifier_from_checkpoint", "predict_classifier"]
