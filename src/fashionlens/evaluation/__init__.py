"""Evaluation: pure functions over fixed predictions, then plots and a self-contained report.

classification.py  classifier metrics (scikit-learn) and label mapping onto a checkpoint's classes
honesty.py         majority baseline and the `collapsed` verdict
compare.py         the case table of two classifiers on the same items
detection.py       COCO mAP (pycocotools), PR, FROC and image-level ROC per region
recommendation.py  precision@k, colour agreement vs a random baseline, fill in the blank, end to end
plots.py           matplotlib (Agg) figures written as PNG files
report.py          metrics.json, report.html, written atomically
"""
