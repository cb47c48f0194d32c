"""Models: plain builders over torchvision and the inference helpers that need only a checkpoint."""

from fashionlens.models.classifier import DEFAULT_ARCH, build_classifier, classifier_from_checkpoint, predict_classifier

__all__ = ["DEFAULT_ARCH", "build_classifier", "classifier_from_checkpoint", "predict_classifier"]
